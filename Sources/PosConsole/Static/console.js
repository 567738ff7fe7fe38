// Live refresh, and nothing else: a block marked data-refresh="N" is fetched again every N
// seconds and swapped in, unless the person is typing in a form. Every page works without it.
(function () {
  "use strict";
  var block = document.querySelector("[data-refresh]");
  if (!block) { return; }
  var seconds = Math.max(5, parseInt(block.getAttribute("data-refresh"), 10) || 30);
  setInterval(function () {
    var active = document.activeElement;
    if (document.hidden || (active && /INPUT|SELECT|TEXTAREA/.test(active.tagName))) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-refresh]");
        if (fresh) { block.replaceWith(fresh); block = fresh; }
      })
      .catch(function () {});
  }, seconds * 1000);
})();
