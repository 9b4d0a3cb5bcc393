// Times in the browser's time zone: every <time datetime="…"> the server
// wrote in UTC is shown in local time, with the zone's name; the UTC time
// stays in its title. Runs on load and on every htmx swap.
(function () {
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
  });
  function localize(root) {
    (root || document).querySelectorAll("time[datetime]:not([data-local])").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime()) || !el.textContent.trim()) return;
      el.title = el.textContent.trim() || el.getAttribute("datetime");
      el.textContent = format.format(d);
      el.setAttribute("data-local", "");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localize(document); });
  document.addEventListener("htmx:load", function (ev) { localize(ev.target); });
})();
