/* Model Registry: small progressive enhancements. Every page works without them. */
(function () {
  "use strict";
  var COLORS = ["#1d4ed8", "#b91c1c", "#15803d", "#a16207", "#7c3aed", "#0e7490", "#be185d", "#4b5563"];
  var HEIGHT = 280;

  // Reject and Comment need a comment: say so before the round trip (the server checks too).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-requires-comment]");
    if (!button || !button.form) return;
    var box = button.form.querySelector("textarea[name=comment]");
    if (box && !box.value.trim()) {
      event.preventDefault();
      var folded = box.closest("details");
      if (folded) folded.open = true;
      box.setCustomValidity("Write a comment to " + button.textContent.trim().toLowerCase() + ".");
      box.reportValidity();
      box.addEventListener("input", function () { box.setCustomValidity(""); }, { once: true });
    }
  });

  // Production-changing buttons (data-confirm="<dialog id>") ask in a dialog first;
  // the dialog names the consequence the server computed. Confirm sends the form
  // with confirm=1; Cancel (or Escape) sends nothing. Without JavaScript, or without
  // <dialog>, the server asks on a page of its own.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm]");
    if (!button || !button.form || event.defaultPrevented) return;
    var dialog = document.getElementById(button.dataset.confirm);
    if (!dialog || typeof dialog.showModal !== "function") return;
    if (!button.form.checkValidity()) return;  // let the browser say what is missing
    event.preventDefault();
    dialog.querySelectorAll("[data-will-of], [data-verb-of]").forEach(function (el) {
      var select = document.getElementById(el.dataset.willOf || el.dataset.verbOf);
      var option = select && select.options[select.selectedIndex];
      if (!option) return;
      el.textContent = el.dataset.willOf ? option.dataset.will + "." : option.dataset.verb;
    });
    dialog.returnValue = "";
    dialog.showModal();
    var yes = dialog.querySelector("[data-confirm-yes]");
    var no = dialog.querySelector("[data-confirm-no]");
    function close() { dialog.close(); }
    function confirm() {
      dialog.close();
      var flag = button.form.querySelector("input[name=confirm]");
      if (!flag) {
        flag = document.createElement("input");
        flag.type = "hidden";
        flag.name = "confirm";
        button.form.appendChild(flag);
      }
      flag.value = "1";
      button.form.requestSubmit(button);
    }
    yes.onclick = confirm;
    no.onclick = close;
  });

  // Copy buttons: data-copy="<id>" copies that field (selected, so a failed copy
  // still leaves it ready for Ctrl-C); data-copy-text copies the whole value of a
  // shortened one (a hash).
  function selectText(field) {
    if (typeof field.select === "function") {
      field.focus();
      field.select();
      return;
    }
    var range = document.createRange();
    range.selectNodeContents(field);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
  }

  function copyByCommand(text) {
    var scratch = document.createElement("textarea");
    scratch.value = text;
    scratch.setAttribute("readonly", "");
    scratch.className = "sr-only";
    document.body.appendChild(scratch);
    scratch.select();
    var ok = document.execCommand("copy");
    scratch.remove();
    return ok;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy], button[data-copy-text]");
    if (!button) return;
    var field = button.dataset.copy ? document.getElementById(button.dataset.copy) : null;
    var text = button.dataset.copyText != null
      ? button.dataset.copyText : field && (field.value || field.textContent);
    if (text == null) return;
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {
        if (copyByCommand(text)) done();
      });
    } else if (copyByCommand(text)) {
      done();
    }
    if (field) selectText(field);
  });

  // Switches such as "Differences only" apply at once.
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) event.target.form.requestSubmit();
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches("input.key")) event.target.select();
  });

  function source(el) {
    return JSON.parse(document.getElementById(el.dataset.source).textContent);
  }

  function fit(el, plot) {
    if (!window.ResizeObserver) return;
    new ResizeObserver(function () {
      plot.setSize({ width: el.clientWidth, height: HEIGHT });
    }).observe(el);
  }

  // A group's metrics across its versions; checkboxes choose the metrics shown.
  function lineChart(el) {
    var d = source(el);
    var names = Object.keys(d.metrics);
    var series = [{ label: "version", value: function (u, v) { return v == null ? "" : "v" + v; } }];
    names.forEach(function (name, i) {
      series.push({
        label: name,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        show: d.shown.indexOf(name) >= 0,
        spanGaps: true,
        points: { show: d.versions.length <= 60 },
      });
    });
    var plot = new uPlot({
      width: el.clientWidth || 600,
      height: HEIGHT,
      scales: { x: { time: false } },
      axes: [
        { label: "version", values: function (u, ticks) {
          return ticks.map(function (t) { return Number.isInteger(t) ? "v" + t : ""; });
        } },
        {},
      ],
      series: series,
    }, [d.versions].concat(names.map(function (n) { return d.metrics[n]; })), el);
    document.querySelectorAll("[data-series-toggle]").forEach(function (box) {
      var index = names.indexOf(box.dataset.seriesToggle) + 1;
      box.addEventListener("change", function () { plot.setSeries(index, { show: box.checked }); });
    });
    fit(el, plot);
  }

  // Compare: one group of bars per metric, one bar per version. uPlot shares one x
  // array between series, so each version's bars sit at their own x inside the group.
  function barChart(el) {
    var d = source(el);
    var count = d.labels.length;
    var stride = count + 1;
    var xs = [];
    d.metrics.forEach(function (_, m) {
      for (var j = 0; j < count; j++) xs.push(m * stride + j);
    });
    var columns = d.labels.map(function (_, j) {
      return xs.map(function (x) {
        var m = Math.floor(x / stride);
        return x % stride === j ? d.values[j][m] : null;
      });
    });
    var centers = d.metrics.map(function (_, m) { return m * stride + (count - 1) / 2; });
    var bars = uPlot.paths.bars({ size: [0.9, 64], align: 0 });
    var series = [{ label: "metric", value: function (u, v) {
      return v == null ? "" : d.metrics[Math.floor(v / stride)];
    } }];
    d.labels.forEach(function (label, j) {
      var colour = COLORS[j % COLORS.length];
      series.push({ label: label, stroke: colour, fill: colour, paths: bars, points: { show: false } });
    });
    var plot = new uPlot({
      width: el.clientWidth || 600,
      height: HEIGHT,
      scales: {
        x: { time: false, range: function () { return [-1, d.metrics.length * stride - 1]; } },
        y: { range: function (u, min, max) { return [Math.min(0, min), max > 0 ? max * 1.05 : 1]; } },
      },
      axes: [
        { splits: function () { return centers; }, values: function () { return d.metrics; }, grid: { show: false } },
        {},
      ],
      series: series,
    }, [xs].concat(columns), el);
    fit(el, plot);
  }

  function charts() {
    if (!window.uPlot) return;
    document.querySelectorAll("[data-chart=line]").forEach(lineChart);
    document.querySelectorAll("[data-chart=bars]").forEach(barChart);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", charts);
  } else {
    charts();
  }
})();
