from tortoise import migrations
from tortoise.migrations import operations as ops

# Every fact names an employee of its own tenant. One foreign key on (tenant_id, employee_id)
# says so, and replaces the two single-column keys (to the tenant, to the employee): a bulk
# import of facts paid for two referential checks a row, now one, and a fact can no longer
# name another tenant's employee even through a coding slip. The tenant of a fact still
# cannot vanish under it: its employee holds the tenant in place.


class Migration(migrations.Migration):
    dependencies = [("renshi", "0009_imports")]

    initial = False

    operations = [
        ops.RunSQL(
            [
                "ALTER TABLE employees ADD CONSTRAINT employees_tenant_id_id_key "
                "UNIQUE (tenant_id, id)",
                """
                DO $$
                DECLARE c record;
                BEGIN
                    FOR c IN SELECT conname FROM pg_constraint
                             WHERE conrelid = 'facts'::regclass AND contype = 'f'
                    LOOP
                        EXECUTE format('ALTER TABLE facts DROP CONSTRAINT %I', c.conname);
                    END LOOP;
                END $$
                """,
                "ALTER TABLE facts ADD CONSTRAINT facts_employee_fk "
                "FOREIGN KEY (tenant_id, employee_id) REFERENCES employees (tenant_id, id) "
                "ON DELETE CASCADE",
            ],
            reverse_sql=[
                "ALTER TABLE facts DROP CONSTRAINT facts_employee_fk",
                "ALTER TABLE facts ADD FOREIGN KEY (employee_id) REFERENCES employees (id) "
                "ON DELETE CASCADE",
                "ALTER TABLE facts ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id) "
                "ON DELETE RESTRICT",
                "ALTER TABLE employees DROP CONSTRAINT employees_tenant_id_id_key",
            ],
        ),
    ]
