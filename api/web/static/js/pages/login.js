// Logging in: organisation (tenant slug), e-mail and password, through the `login` mutation.

import { errorText } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { login, rememberedLogin } from "../session.js";
import { languageSwitch } from "../shell.js";
import { notice } from "../views.js";

function render({ notice: message, onLoggedIn }) {
  const remembered = rememberedLogin();
  const tenant = h("input", {
    id: "login-tenant",
    name: "tenant",
    autocomplete: "organization",
    required: true,
    value: remembered.tenant || "",
    placeholder: "acme",
  });
  const email = h("input", {
    id: "login-email",
    name: "email",
    type: "email",
    autocomplete: "username",
    required: true,
    value: remembered.email || "",
  });
  const password = h("input", {
    id: "login-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const status = h("div", { "aria-live": "polite" }, message ? notice("warn", message) : null);
  const submit = h("button.btn.btn-primary", { type: "submit", id: "login-submit" }, t("login.submit"));

  const form = h(
    "form.login-form",
    {
      novalidate: false,
      on: {
        submit: async (event) => {
          event.preventDefault();
          submit.disabled = true;
          submit.textContent = t("login.submitting");
          status.replaceChildren();
          try {
            await login(tenant.value.trim(), email.value.trim(), password.value);
            await onLoggedIn();
          } catch (error) {
            status.replaceChildren(notice("error", errorText(error)));
            submit.disabled = false;
            submit.textContent = t("login.submit");
            password.select();
          }
        },
      },
    },
    h("div.lang", languageSwitch()),
    h("h1", t("login.title")),
    h("p.note", t("login.subtitle")),
    h("label.field", { for: "login-tenant" }, h("span", t("login.tenant")), tenant),
    h("label.field", { for: "login-email" }, h("span", t("login.email")), email),
    h("label.field", { for: "login-password" }, h("span", t("login.password")), password),
    status,
    submit,
  );
  queueMicrotask(() => (remembered.email ? password : tenant).focus());

  return h(
    "div.login",
    h(
      "section.login-brand",
      h(
        "div",
        h("img", { src: "/static/img/logo.svg", alt: "", width: 48, height: 48 }),
        h("p.login-brand-title", t("login.brandTitle")),
        h("p", t("login.brandLead")),
        h(
          "ul",
          h("li", t("login.point1")),
          h("li", t("login.point2")),
          h("li", t("login.point3")),
          h("li", t("login.point4")),
        ),
      ),
      h("p.login-foot", t("login.footer")),
    ),
    h("section.login-form-wrap", form),
  );
}

export default { render };
