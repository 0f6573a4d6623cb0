// Draws every chart whose Plotly spec sits in a JSON script block (no inline script: CSP).
// <div data-chart="ID"> takes its spec from <script type="application/json" id="ID">.
// A bar or point whose customdata is a URL navigates there when clicked (drill-down).
(function () {
  function draw(root) {
    if (typeof Plotly === "undefined") { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      var source = document.getElementById(el.dataset.chart);
      if (!source) { return; }
      var spec = JSON.parse(source.textContent);
      var config = { displayModeBar: false, responsive: true, staticPlot: el.dataset.static === "true" };
      Plotly.newPlot(el, spec.data, spec.layout, config).then(function () {
        el.dataset.drawn = "true";
        el.on("plotly_click", function (event) {
          var url = event.points && event.points[0] && event.points[0].customdata;
          if (typeof url === "string" && url.charAt(0) === "/") { window.location.assign(url); }
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (event) { draw(event.target); });
})();
