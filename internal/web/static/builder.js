// The rule builder's field search: typing in a row's search box keeps only
// the fields whose name, object or path contain the words typed.
document.addEventListener("input", function (ev) {
  var box = ev.target;
  if (!box.classList || !box.classList.contains("field-search")) return;
  var select = box.parentElement.querySelector("select[name=cond_field]");
  if (!select) return;
  var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
  select.querySelectorAll("optgroup").forEach(function (group) {
    var shown = 0;
    group.querySelectorAll("option").forEach(function (opt) {
      var text = (group.label + " " + opt.textContent + " " + opt.value).toLowerCase();
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; });
      opt.hidden = !ok;
      if (ok) shown++;
    });
    group.hidden = shown === 0;
  });
});
