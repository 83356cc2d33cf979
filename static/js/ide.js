// The project IDE: CodeMirror editor (static/editor/editor.js), autosave with a visible
// saved/unsaved state, live analysis (diagnostics at the line, resource figures), and the
// run/build/release forms (htmx) fed with the editor's text. No inline scripts: data comes
// from data-* attributes and <script type="application/json"> blocks (strict CSP friendly).
(function () {
  "use strict";

  var AUTOSAVE_MS = 1200;
  var ANALYSE_MS = 500;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function debounce(fn, ms) {
    var timer = null;
    var wrapped = function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
    wrapped.cancel = function () {
      clearTimeout(timer);
    };
    return wrapped;
  }

  function init() {
    var root = document.getElementById("ide");
    var host = document.getElementById("editor");
    if (!root || !host || !window.QHEditor) return;

    var docBlock = document.getElementById("ide-doc");
    var initial = docBlock ? JSON.parse(docBlock.textContent).doc : "";
    var saveUrl = root.dataset.saveUrl;
    var analyseUrl = root.dataset.analyseUrl;
    var path = root.dataset.path;
    var isProgram = root.dataset.language === "openqasm";
    var fileLimit = parseInt(root.dataset.fileLimit, 10) || 0;
    var stateEl = document.getElementById("save-state");
    var analysisEl = document.getElementById("analysis");
    var runForm = document.getElementById("run-form");
    var runButton = document.getElementById("run-button");
    var runOutput = document.getElementById("run-output");

    var savedText = initial;
    var saving = null; // the in-flight save promise
    var editor;

    function setState(state, text) {
      if (!stateEl) return;
      stateEl.dataset.state = state;
      stateEl.textContent = text;
    }

    // One run at a time: from the click until the job is final (the run panel polls for
    // its status and marks itself data-in-flight meanwhile), Run is disabled and Ctrl-Enter
    // or a second click sends nothing.
    var runCanStart = !!runButton && !runButton.disabled;
    var runPosting = false;

    function runInFlight() {
      return runPosting || !!(runOutput && runOutput.querySelector("[data-in-flight]"));
    }

    function syncRunButton() {
      if (!runCanStart) return;
      var busy = runInFlight();
      runButton.disabled = busy;
      if (busy) runButton.setAttribute("aria-busy", "true");
      else runButton.removeAttribute("aria-busy");
    }

    function dirty() {
      return editor.getValue() !== savedText;
    }

    function save() {
      if (saving) {
        // Save again once the current request finishes, so the last text always lands.
        return saving.then(function () {
          return dirty() ? save() : true;
        });
      }
      if (!dirty()) {
        setState("saved", "Saved");
        return Promise.resolve(true);
      }
      var text = editor.getValue();
      if (fileLimit && new Blob([text]).size > fileLimit) {
        setState("error", "Not saved: the file is over " + Math.floor(fileLimit / 1024) + " KiB");
        return Promise.resolve(false);
      }
      setState("saving", "Saving…");
      saving = fetch(saveUrl, {
        method: "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ content: text }),
      })
        .then(function (response) {
          return response.json().then(function (body) {
            if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
            savedText = text;
            setState(dirty() ? "unsaved" : "saved", dirty() ? "Unsaved changes" : "Saved");
            // The sidebar shows the size the server stored, not the one the page loaded with.
            var sizeEl = root.querySelector('.file-tree [aria-current="true"] ~ [data-file-size]');
            if (sizeEl && typeof body.size === "number") sizeEl.textContent = body.size + " B";
            return true;
          });
        })
        .catch(function (error) {
          setState("error", "Not saved: " + error.message);
          return false;
        })
        .finally(function () {
          saving = null;
        });
      return saving;
    }

    function analyse() {
      if (!isProgram || !analyseUrl) return;
      var body = new URLSearchParams({ source: editor.getValue() });
      fetch(analyseUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken() },
        body: body,
      })
        .then(function (response) {
          if (!response.ok) throw new Error(response.statusText);
          return response.text();
        })
        .then(function (html) {
          analysisEl.innerHTML = html;
          var data = analysisEl.querySelector("script.diagnostics-data");
          editor.setDiagnostics(data ? JSON.parse(data.textContent) : []);
        })
        .catch(function () {
          /* analysis is advisory; the run and build say the same on submit */
        });
    }

    // The price and transpile preview of the editor's program on the chosen device, next to
    // Run: refreshed with the analysis and whenever the device or the shots change.
    var quoteEl = document.getElementById("run-quote");
    function quote() {
      if (!isProgram || !quoteEl || !runForm) return;
      var device = document.getElementById("run-device");
      var shots = document.getElementById("run-shots");
      var body = new URLSearchParams({
        source: editor.getValue(),
        device: device ? device.value : "",
        shots: shots ? shots.value : "",
      });
      fetch(quoteEl.dataset.quoteUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken() },
        body: body,
      })
        .then(function (response) {
          return response.text();
        })
        .then(function (html) {
          quoteEl.innerHTML = html;
        })
        .catch(function () {
          /* the preview is advisory; the run says the same on submit */
        });
    }

    var autosave = debounce(save, AUTOSAVE_MS);
    var reanalyse = debounce(function () {
      analyse();
      quote();
    }, ANALYSE_MS);
    var requote = debounce(quote, 300);

    editor = window.QHEditor.create(host, {
      doc: initial,
      language: root.dataset.language || "openqasm",
      ariaLabel: "Source of " + path,
      onChange: function () {
        if (dirty()) setState("unsaved", "Unsaved changes");
        autosave();
        reanalyse();
      },
      onSave: function () {
        autosave.cancel();
        save();
      },
      onRun: function () {
        if (runForm && isProgram && !runInFlight()) runForm.requestSubmit();
      },
    });
    window.qhIde = editor; // for tests and the browser console

    var saveButton = document.getElementById("save-button");
    if (saveButton) {
      saveButton.addEventListener("click", function () {
        autosave.cancel();
        save();
      });
    }

    // The run form sends the editor's current text, not the saved file.
    document.body.addEventListener("htmx:configRequest", function (event) {
      var form = event.detail.elt.closest && event.detail.elt.closest("form[data-ide-source]");
      if (form) event.detail.parameters.source = editor.getValue();
    });

    if (runForm) {
      runForm.addEventListener("htmx:confirm", function (event) {
        if (event.detail.elt === runForm && runInFlight()) event.preventDefault();
      });
      runForm.addEventListener("htmx:beforeRequest", function (event) {
        if (event.detail.elt !== runForm) return;
        runPosting = true;
        syncRunButton();
      });
      runForm.addEventListener("htmx:afterRequest", function (event) {
        if (event.detail.elt !== runForm) return;
        runPosting = false;
        syncRunButton();
      });
    }
    if (runOutput) {
      // Each status poll replaces the panel; a final status re-enables Run.
      new MutationObserver(syncRunButton).observe(runOutput, { childList: true, subtree: true });
      // A poll that fails stops polling: let the user run again rather than wait forever.
      ["htmx:responseError", "htmx:sendError"].forEach(function (name) {
        runOutput.addEventListener(name, function (event) {
          var elt = event.detail.elt;
          if (elt && elt.hasAttribute && elt.hasAttribute("data-in-flight")) {
            elt.removeAttribute("data-in-flight");
            elt.removeAttribute("aria-busy");
            syncRunButton();
          }
        });
      });
    }

    // Build and release read the saved files: save first, then send.
    document.body.addEventListener("htmx:confirm", function (event) {
      var elt = event.detail.elt;
      if (!elt.matches || !elt.matches("form[data-ide-flush]") || !dirty()) return;
      event.preventDefault();
      autosave.cancel();
      save().then(function (ok) {
        if (ok) event.detail.issueRequest(true);
      });
    });

    // Switching files: save pending changes before leaving the page.
    document.querySelectorAll("a[data-ide-file]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        if (!dirty()) return;
        event.preventDefault();
        autosave.cancel();
        save().then(function (ok) {
          if (ok) window.location.href = link.href;
        });
      });
    });
    window.addEventListener("beforeunload", function (event) {
      if (dirty()) {
        event.preventDefault();
        event.returnValue = "";
      }
    });

    analyse();
    quote();
    ["run-device", "run-shots"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) {
        el.addEventListener("change", requote);
        el.addEventListener("input", requote);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
