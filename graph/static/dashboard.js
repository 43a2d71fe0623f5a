// The dashboard: each chart polls its own query with GET /graphql (query and variables as parameters) and
// If-None-Match, keeps its chart on a 304, and redraws on a 200. A file rather than an inline script, so the
// page's Content-Security-Policy allows scripts from 'self' only; the page hands its settings over as JSON.
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("dashboard-settings").textContent);
  var params = new URLSearchParams(window.location.search);
  var intervalMs = Math.max(0.5, Number(params.get("interval")) || 5) * 1000;
  var weeks = Math.max(1, Math.min(104, Number(params.get("weeken")) || 26));
  var TOKEN_KEY = "gemeentegraaf.dashboard.token";
  var PALETTE = ["#01689b", "#e17000", "#39870c", "#a90061", "#8fcae7", "#f9e11e", "#42145f", "#ca005d",
                 "#94710a", "#76d2b6", "#b2d7ee", "#673327"];

  // Monday 00:00 UTC, `weeks` weeks back: the same value all day, so polls share one cached answer
  function weeksBack(n) {
    var day = new Date();
    day.setUTCHours(0, 0, 0, 0);
    day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7) - 7 * (n - 1));
    return day.toISOString().replace(".000Z", "Z");
  }

  function byCount(a, b) { return b.aantal - a.aantal; }
  function single(label, groups, key, value) {
    return {
      labels: groups.map(function (g) { return g[key] === null ? "(geen)" : g[key]; }),
      datasets: [{ label: label, data: groups.map(function (g) { return g[value]; }) }],
    };
  }

  var CHARTS = [
    {
      id: "meldingen-categorie", title: "Meldingen per categorie", type: "bar", horizontal: true, tall: true,
      query: "query MeldingenPerCategorie {\n  meldingenStatistiek(groepeerOp: [CATEGORIE]) {\n    totaal\n" +
             "    groepen { categorie aantal }\n  }\n}",
      variables: {},
      shape: function (data) {
        return single("meldingen", data.meldingenStatistiek.groepen.slice().sort(byCount), "categorie", "aantal");
      },
      total: function (data) { return data.meldingenStatistiek.totaal + " meldingen"; },
    },
    {
      id: "meldingen-buurt", title: "Meldingen per buurt", type: "bar",
      query: "query MeldingenPerBuurt {\n  meldingenStatistiek(groepeerOp: [BUURT]) {\n    totaal\n" +
             "    groepen { buurt aantal }\n  }\n}",
      variables: {},
      shape: function (data) { return single("meldingen", data.meldingenStatistiek.groepen, "buurt", "aantal"); },
      total: function (data) { return data.meldingenStatistiek.totaal + " meldingen"; },
    },
    {
      id: "meldingen-week", title: "Meldingen per week (laatste " + weeks + " weken)", type: "line",
      query: "query MeldingenPerWeek($vanaf: DateTime) {\n  meldingenStatistiek(groepeerOp: [WEEK], vanaf: $vanaf) {\n" +
             "    totaal\n    groepen { week aantal }\n  }\n}",
      variables: { vanaf: weeksBack(weeks) },
      shape: function (data) { return single("meldingen", data.meldingenStatistiek.groepen, "week", "aantal"); },
      total: function (data) { return data.meldingenStatistiek.totaal + " meldingen"; },
    },
    {
      id: "zaken-open", title: "Open zaken per zaaktype en status", type: "bar", stacked: true,
      query: "query OpenZakenPerZaaktypeEnStatus {\n  zakenStatistiek(groepeerOp: [STATUS, OPEN]) {\n" +
             "    groepen { zaaktype status open aantal }\n  }\n}",
      variables: {},
      shape: function (data) {
        var open = data.zakenStatistiek.groepen.filter(function (g) { return g.open; });
        var types = [], statuses = [];
        open.forEach(function (g) {
          if (types.indexOf(g.zaaktype) < 0) types.push(g.zaaktype);
          if (statuses.indexOf(g.status) < 0) statuses.push(g.status);
        });
        types.sort();
        return {
          labels: types.map(function (t) { return t === null ? "(onbekend)" : t; }),
          datasets: statuses.map(function (s) {
            return {
              label: s === null ? "(geen status)" : s,
              data: types.map(function (t) {
                var found = open.filter(function (g) { return g.zaaktype === t && g.status === s; });
                return found.length ? found[0].aantal : 0;
              }),
            };
          }),
        };
      },
      total: function (data) {
        return data.zakenStatistiek.groepen.reduce(function (n, g) { return n + (g.open ? g.aantal : 0); }, 0) +
               " open zaken";
      },
    },
    {
      id: "zaken-doorlooptijd", title: "Gemiddelde doorlooptijd afgesloten zaken (dagen)", type: "bar",
      horizontal: true,
      query: "query DoorlooptijdPerZaaktype {\n  zakenStatistiek(groepeerOp: [ZAAKTYPE]) {\n" +
             "    groepen { zaaktype aantal gemiddeldeDoorlooptijdDagen }\n  }\n}",
      variables: {},
      shape: function (data) {
        var groups = data.zakenStatistiek.groepen.slice().sort(function (a, b) {
          return (b.gemiddeldeDoorlooptijdDagen || 0) - (a.gemiddeldeDoorlooptijdDagen || 0);
        });
        return single("dagen", groups, "zaaktype", "gemiddeldeDoorlooptijdDagen");
      },
      total: function (data) {
        return data.zakenStatistiek.groepen.reduce(function (n, g) { return n + g.aantal; }, 0) + " zaken";
      },
    },
  ];

  // what tests and curious developers can read: per chart, the last answer and what was drawn from it
  var exposed = { intervalMs: intervalMs, charts: {} };
  window.gemeentegraafDashboard = exposed;

  function token() {
    try { return window.sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  function authHeaders() {
    if (settings.headers) return Object.assign({}, settings.headers);
    var t = token();
    return t ? { Authorization: "Bearer " + t } : null;
  }

  function setState(text) { document.getElementById("state").textContent = text; }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function card(def) {
    var section = el("article", "card");
    section.id = def.id;
    section.dataset.draws = "0";
    var head = el("header", "card-head");
    head.appendChild(el("h2", null, def.title));
    var total = el("span", "total", "");
    head.appendChild(total);
    section.appendChild(head);
    var body = el("div", "card-body");
    var box = el("div", def.tall ? "chart tall" : "chart");
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", def.title);
    box.appendChild(canvas);
    body.appendChild(box);
    var aside = el("div", "query");
    var tools = el("div", "query-tools");
    tools.appendChild(el("span", null, "GET /graphql"));
    var copy = el("button", "copy", "Copy query");
    copy.type = "button";
    tools.appendChild(copy);
    aside.appendChild(tools);
    var pre = el("pre", "query-text", def.query);
    aside.appendChild(pre);
    if (Object.keys(def.variables).length) {
      aside.appendChild(el("pre", "query-variables", JSON.stringify(def.variables, null, 2)));
    }
    var status = el("p", "poll-state", "waiting for the first answer");
    aside.appendChild(status);
    body.appendChild(aside);
    section.appendChild(body);
    document.getElementById("charts").appendChild(section);
    copy.addEventListener("click", function () {
      var done = function () { copy.textContent = "Copied"; setTimeout(function () { copy.textContent = "Copy query"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(def.query).then(done, function () { select(pre); });
      } else {
        select(pre);
      }
    });
    return { section: section, canvas: canvas, total: total, status: status };
  }

  function select(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function colour(shaped, def) {
    shaped.datasets.forEach(function (set, i) {
      var c = PALETTE[i % PALETTE.length];
      set.backgroundColor = def.type === "line" ? c + "33" : c;
      set.borderColor = c;
      if (def.type === "line") { set.fill = true; set.tension = 0.2; set.pointRadius = 2; }
    });
    return shaped;
  }

  function draw(def, view, shaped) {
    if (!view.chart) {
      view.chart = new Chart(view.canvas, {
        type: def.type,
        data: shaped,
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          indexAxis: def.horizontal ? "y" : "x",
          plugins: { legend: { display: Boolean(def.stacked), position: "bottom" } },
          scales: {
            x: { stacked: Boolean(def.stacked), ticks: { autoSkip: !def.horizontal } },
            y: { stacked: Boolean(def.stacked), beginAtZero: true, ticks: { autoSkip: !def.horizontal } },
          },
        },
      });
    } else {
      view.chart.data.labels = shaped.labels;
      view.chart.data.datasets = shaped.datasets;
      view.chart.update("none");
    }
  }

  function start(def) {
    var view = card(def);
    var state = exposed.charts[def.id] = {
      query: def.query, variables: def.variables, etag: null, polls: 0, notModified: 0, draws: 0,
      lastStatus: null, answer: null, labels: null, datasets: null, error: null,
    };
    var url = settings.endpoint + "?" + new URLSearchParams({
      query: def.query, variables: JSON.stringify(def.variables),
    }).toString();

    function schedule() { setTimeout(poll, intervalMs); }

    function poll() {
      var headers = authHeaders();
      if (!headers) { askForToken(); return; }
      headers.Accept = "application/graphql-response+json, application/json";
      if (state.etag) headers["If-None-Match"] = state.etag;
      state.polls += 1;
      // the browser's own cache is bypassed: we revalidate ourselves, and a 304 reaches us as a 304
      fetch(url, { headers: headers, cache: "no-store", credentials: "omit" }).then(function (response) {
        state.lastStatus = response.status;
        if (response.status === 304) {
          state.notModified += 1;
          view.status.textContent = "unchanged at " + new Date().toLocaleTimeString() + " (304)";
          return null;
        }
        if (response.status === 401 && !settings.headers) {
          window.sessionStorage.removeItem(TOKEN_KEY);
          askForToken("The token was refused; paste another.");
          return "stop";
        }
        return response.json().then(function (answer) {
          if (!answer.data || answer.errors) {
            state.error = (answer.errors || [{ message: "no data" }]).map(function (e) { return e.message; }).join("; ");
            view.status.textContent = "error: " + state.error;
            if (!answer.data) return null;
          } else {
            state.error = null;
          }
          state.etag = response.headers.get("ETag");
          state.answer = answer;
          var shaped = colour(def.shape(answer.data), def);
          draw(def, view, shaped);
          state.labels = shaped.labels.slice();
          state.datasets = shaped.datasets.map(function (d) { return { label: d.label, data: d.data.slice() }; });
          state.draws += 1;
          view.section.dataset.draws = String(state.draws);
          view.total.textContent = def.total(answer.data);
          if (!state.error) view.status.textContent = "updated at " + new Date().toLocaleTimeString() + " (200)";
          return null;
        });
      }).catch(function (problem) {
        state.error = String(problem);
        view.status.textContent = "no answer: " + state.error + "; trying again";
      }).then(function (outcome) {
        if (outcome !== "stop") schedule();
      });
    }

    return poll;
  }

  var pollers = [];
  var asking = false;

  function askForToken(message) {
    if (asking) return;
    asking = true;
    var form = document.getElementById("token");
    form.hidden = false;
    setState(message || "Paste a bearer token to see the numbers.");
    document.getElementById("token-input").focus();
  }

  document.getElementById("token").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = document.getElementById("token-input").value.trim().replace(/^Bearer\s+/i, "");
    if (!value) return;
    window.sessionStorage.setItem(TOKEN_KEY, value);
    document.getElementById("token-input").value = "";
    document.getElementById("token").hidden = true;
    asking = false;
    run();
  });

  function run() {
    setState("Polling every " + intervalMs / 1000 + " s");
    pollers.forEach(function (poll) { poll(); });
  }

  pollers = CHARTS.map(start);
  if (authHeaders()) run(); else askForToken();
})();
