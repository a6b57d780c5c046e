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

  function fit(el, plot, height) {
    // The frame may have settled narrower than it was when the chart was drawn.
    window.requestAnimationFrame(function () {
      if (el.clientWidth) plot.setSize({ width: el.clientWidth, height: height });
    });
    if (!window.ResizeObserver) return;
    new ResizeObserver(function () {
      if (el.clientWidth) plot.setSize({ width: el.clientWidth, height: height });
    }).observe(el);
  }

  // A group's metrics across its versions: one small chart per metric (each on its
  // own scale), gaps left open where a version did not report the metric, approved
  // versions as filled points, live and aliased versions labelled; a click on a
  // chart opens the version under the cursor. Checkboxes choose the metrics.
  var SMALL = 170;

  function marker(u, d) {
    var ctx = u.ctx;
    ctx.save();
    ctx.font = (11 * devicePixelRatio) + "px system-ui, sans-serif";
    ctx.fillStyle = "#374151";
    ctx.strokeStyle = "#9ca3af";
    ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
    Object.keys(d.marks).forEach(function (number) {
      var x = u.valToPos(Number(number), "x", true);
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillText("v" + number + " " + d.marks[number].join(", "), x + 3 * devicePixelRatio,
        u.bbox.top + 11 * devicePixelRatio);
    });
    ctx.restore();
  }

  function smallChart(box, d, name, colour) {
    var approved = {};
    d.approved.forEach(function (n) { approved[n] = true; });
    var values = d.metrics[name];
    var plot = new uPlot({
      width: box.clientWidth || 600,
      height: SMALL,
      title: name,
      legend: { show: false },
      scales: { x: { time: false } },
      axes: [
        { values: function (u, ticks) {
          return ticks.map(function (t) { return Number.isInteger(t) ? "v" + t : ""; });
        } },
        { size: 60 },
      ],
      series: [
        {},
        {
          label: name,
          stroke: colour,
          width: 2,
          spanGaps: false,
          points: {
            show: d.versions.length <= 80,
            size: 7,
            fill: colour,
            filter: function (u, seriesIdx, show) {
              return show ? d.versions.map(function (v, i) {
                return approved[v] && values[i] != null ? i : null;
              }).filter(function (i) { return i != null; }) : null;
            },
          },
        },
      ],
      hooks: { draw: [function (u) { marker(u, d); }] },
    }, [d.versions, values], box);
    plot.over.addEventListener("click", function () {
      var i = plot.cursor.idx;
      if (i != null) window.location.href = d.url + "versions/" + d.versions[i] + "/";
    });
    plot.over.style.cursor = "pointer";
    fit(box, plot, SMALL);
    return plot;
  }

  function lineChart(el) {
    var d = source(el);
    var names = Object.keys(d.metrics);
    el.classList.add("small-multiples");
    var boxes = {};
    names.forEach(function (name, i) {
      var box = document.createElement("div");
      box.className = "small-chart";
      box.dataset.metric = name;
      box.hidden = d.shown.indexOf(name) < 0;
      el.appendChild(box);
      boxes[name] = { el: box, colour: COLORS[i % COLORS.length], plot: null };
      if (!box.hidden) boxes[name].plot = smallChart(box, d, name, boxes[name].colour);
    });
    document.querySelectorAll("[data-series-toggle]").forEach(function (toggle) {
      toggle.addEventListener("change", function () {
        var entry = boxes[toggle.dataset.seriesToggle];
        if (!entry) return;
        entry.el.hidden = !toggle.checked;
        if (toggle.checked && !entry.plot) {
          entry.plot = smallChart(entry.el, d, toggle.dataset.seriesToggle, entry.colour);
        }
      });
    });
  }

  // Compare: each metric's change against the first version chosen, in per cent, so
  // metrics on different scales share one axis and small differences show.
  function barChart(el) {
    var d = source(el);
    var count = d.labels.length;
    var stride = count + 1;
    var xs = [];
    d.metrics.forEach(function (_, m) {
      for (var j = 0; j < count; j++) xs.push(m * stride + j);
    });
    var change = function (j, m) {
      var base = d.values[0][m];
      var value = d.values[j][m];
      if (value == null || base == null || base === 0) return null;
      return 100 * (value - base) / Math.abs(base);
    };
    var columns = d.labels.map(function (_, j) {
      return xs.map(function (x) {
        var m = Math.floor(x / stride);
        return x % stride === j ? change(j, m) : null;
      });
    });
    var centers = d.metrics.map(function (_, m) { return m * stride + (count - 1) / 2; });
    var bars = uPlot.paths.bars({ size: [0.9, 64], align: 0 });
    var series = [{ label: "metric", value: function (u, v) {
      return v == null ? "" : d.metrics[Math.floor(v / stride)];
    } }];
    d.labels.forEach(function (label, j) {
      var colour = COLORS[j % COLORS.length];
      series.push({
        label: label + (j === 0 ? " (baseline)" : ""),
        stroke: colour, fill: colour, paths: bars, points: { show: false },
        value: function (u, v) { return v == null ? "—" : (v >= 0 ? "+" : "") + v.toFixed(2) + "%"; },
      });
    });
    var plot = new uPlot({
      width: el.clientWidth || 600,
      height: HEIGHT,
      scales: {
        x: { time: false, range: function () { return [-1, d.metrics.length * stride - 1]; } },
        y: { range: function (u, min, max) {
          var reach = Math.max(Math.abs(min || 0), Math.abs(max || 0), 0.5) * 1.15;
          return [-reach, reach];
        } },
      },
      axes: [
        { splits: function () { return centers; }, values: function () { return d.metrics; }, grid: { show: false } },
        { label: "change vs " + d.labels[0] + " (%)", size: 70 },
      ],
      series: series,
    }, [xs].concat(columns), el);
    fit(el, plot, HEIGHT);
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
