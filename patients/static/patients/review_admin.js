// "Add a row" under each summary list of the review form: a copy of the formset's empty form.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest(".summary-add-row");
  if (!button) return;
  const prefix = button.dataset.prefix;
  const fieldset = button.closest("fieldset");
  const total = fieldset.querySelector(`input[name="${prefix}-TOTAL_FORMS"]`);
  const html = fieldset.querySelector("template.summary-empty-row").innerHTML.replaceAll("__prefix__", total.value);
  const body = fieldset.querySelector("tbody");
  body.insertAdjacentHTML("beforeend", html);
  total.value = String(Number(total.value) + 1);
  const first = body.lastElementChild.querySelector("input, select, textarea");
  if (first) first.focus();
});
