"""The import specs of facts and work items: the two kinds that feed scoring."""

from __future__ import annotations

from domain.imports.fields import Choice, FieldSpec, FieldType, KindSpec, RefKind

FACTS = KindSpec(
    code="facts",
    label_en="Facts",
    label_zh="事实记录",
    key=("source", "external_key"),
    fields=(
        FieldSpec(
            "employee", FieldType.TEXT, "Employee", "员工", required=True, ref=RefKind.EMPLOYEE,
            synonyms=("employee number", "employee no", "emp no", "staff id", "工号", "员工编号",
                      "员工工号", "email", "邮箱"),
            description="employee number or e-mail",
        ),
        FieldSpec(
            "kind", FieldType.TEXT, "Fact kind", "事实类型", required=True, max_length=63,
            synonyms=("fact kind", "type", "metric", "类型", "指标"),
        ),
        FieldSpec(
            "occurred_at", FieldType.DATETIME, "Occurred at", "发生时间", required=True,
            synonyms=("date", "time", "occurred", "日期", "时间", "发生日期"),
        ),
        FieldSpec(
            "value", FieldType.NUMBER, "Value", "数值", required=True,
            synonyms=("amount", "count", "score", "值", "分数", "数量"),
        ),
        FieldSpec(
            "denominator", FieldType.NUMBER, "Denominator", "分母",
            synonyms=("base", "out of", "基数"),
        ),
        FieldSpec(
            "external_key", FieldType.TEXT, "External key", "外部编号", max_length=128,
            synonyms=("id", "key", "record id", "编号", "记录编号"),
            description="when absent, the key is derived from employee, kind and time",
        ),
        FieldSpec(
            "source", FieldType.TEXT, "Source system", "来源系统", max_length=63,
            synonyms=("system", "来源"),
            description="defaults to the mapping profile's source, else 'import'",
        ),
        FieldSpec(
            "attributes", FieldType.JSON, "Attributes", "属性",
            synonyms=("attrs", "extra", "附加属性"),
        ),
    ),
)  # fmt: skip

WORK_ITEMS = KindSpec(
    code="work_items",
    label_en="Work items",
    label_zh="工作项",
    key=("source", "external_key"),
    fields=(
        FieldSpec(
            "external_key", FieldType.TEXT, "External key", "外部编号", required=True,
            max_length=128, synonyms=("issue key", "key", "ticket", "id", "单号", "编号"),
        ),
        FieldSpec(
            "kind", FieldType.TEXT, "Kind", "类型", required=True, max_length=63,
            synonyms=("issue type", "type", "工作项类型", "问题类型"),
            description="a work item kind of the tenant's pack (requirement, bug, ...); "
            "enum synonyms in the mapping turn 'Story' into 'requirement'",
        ),
        FieldSpec(
            "title", FieldType.TEXT, "Title", "标题", required=True, max_length=300,
            synonyms=("summary", "subject", "name", "摘要", "主题", "名称"),
        ),
        FieldSpec(
            "source", FieldType.TEXT, "Source system", "来源系统", max_length=63,
            synonyms=("system", "来源"),
        ),
        FieldSpec(
            "customer", FieldType.TEXT, "Customer or class", "客户或班级", max_length=200,
            synonyms=("client", "account", "class", "客户", "班级"),
        ),
        FieldSpec(
            "requester", FieldType.TEXT, "Requester", "提出人", ref=RefKind.EMPLOYEE,
            synonyms=("reporter", "requested by", "报告人", "提出人", "需求方"),
        ),
        FieldSpec(
            "org_unit", FieldType.TEXT, "Team", "团队", ref=RefKind.ORG_UNIT,
            synonyms=("team", "department", "component", "部门", "团队"),
        ),
        FieldSpec(
            "assignees", FieldType.LIST, "Assignees", "负责人", ref=RefKind.EMPLOYEE,
            synonyms=("assignee", "owner", "developer", "经办人", "负责人", "处理人"),
            description="one or several employees, shares split equally",
        ),
        FieldSpec(
            "skills", FieldType.LIST, "Skills", "技能", ref=RefKind.SKILL,
            synonyms=("labels", "skill", "标签", "技能要求"),
            description="skill names, each optionally with ':<minimum level>' (default 1)",
        ),
        FieldSpec(
            "size", FieldType.NUMBER, "Size (points)", "规模（点数）",
            synonyms=("story points", "points", "estimate", "故事点", "点数"),
        ),
        FieldSpec(
            "requested_at", FieldType.DATETIME, "Requested at", "提出时间",
            synonyms=("created", "created at", "创建时间", "创建日期"),
        ),
        FieldSpec(
            "answered_at", FieldType.DATETIME, "Answered at", "答复时间",
            synonyms=("answered", "responded", "答复日期"),
        ),
        FieldSpec(
            "verdict", FieldType.ENUM, "Feasibility verdict", "可行性结论",
            choices=(
                Choice("feasible", ("yes", "ok", "可行", "是")),
                Choice("not_feasible", ("no", "infeasible", "不可行", "否")),
                Choice("needs_change", ("needs change", "change", "需调整", "需修改")),
            ),
            synonyms=("feasibility", "可行性"),
        ),
        FieldSpec(
            "estimate", FieldType.DURATION_HOURS, "Estimate", "估计工期",
            synonyms=("original estimate", "estimated", "预估", "估时"),
        ),
        FieldSpec(
            "promised_on", FieldType.DATE, "Promised on", "承诺日期",
            synonyms=("due date", "due", "deadline", "截止日期", "交付日期"),
        ),
        FieldSpec(
            "started_at", FieldType.DATETIME, "Started at", "开始时间",
            synonyms=("start", "in progress", "开始日期"),
        ),
        FieldSpec(
            "delivered_at", FieldType.DATETIME, "Delivered at", "交付时间",
            synonyms=("resolved", "done", "fixed", "解决时间", "完成时间"),
        ),
        FieldSpec(
            "closed_at", FieldType.DATETIME, "Closed at", "关闭时间",
            synonyms=("closed", "关闭日期"),
        ),
        FieldSpec(
            "cancelled_at", FieldType.DATETIME, "Cancelled at", "取消时间", synonyms=("cancelled",),
        ),
        FieldSpec(
            "found_in", FieldType.ENUM, "Found in", "发现环节",
            choices=(
                Choice("test", ("testing", "qa", "测试", "测试环境")),
                Choice("production", ("prod", "live", "生产", "线上", "生产环境")),
            ),
            synonyms=("environment", "环境"),
        ),
        FieldSpec(
            "linked_item", FieldType.TEXT, "Linked item", "关联工作项", max_length=128,
            synonyms=("linked issue", "caused by", "关联", "关联单号"),
            description="external key (same source) of the item a defect was found in",
        ),
        FieldSpec(
            "cause", FieldType.TEXT, "Complaint cause", "投诉原因", max_length=63,
            synonyms=("root cause", "原因"),
        ),
        FieldSpec(
            "delay_cause", FieldType.TEXT, "Delay cause", "延期原因", max_length=63,
            synonyms=("delay reason", "延误原因"),
        ),
    ),
)  # fmt: skip
