// The editors' app's few enhancements. Every page works without them: forms post and come back.
// - drag and drop of an edition's items (the ↑ ↓ buttons do the same without a script);
// - the live delivery progress (the page shows the counts of when it was loaded);
// - a confirmation before destructive forms, and "tick all" for the queue.
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  // Confirm before forms marked data-confirm.
  document.addEventListener("submit", (event) => {
    const message = event.target.dataset?.confirm;
    if (message && !window.confirm(message)) event.preventDefault();
  });

  // "Tick all" checkboxes: data-select-all="NAME" ticks every checkbox named NAME.
  document.addEventListener("change", (event) => {
    const name = event.target.dataset?.selectAll;
    if (!name) return;
    document.querySelectorAll(`input[type=checkbox][name="${name}"]`).forEach((box) => { box.checked = event.target.checked; });
  });

  // Drag and drop inside and between an edition's sections.
  function enableDragging() {
    const lists = [...document.querySelectorAll("ol.entries[data-move-url]")];
    if (!lists.length) return;
    let dragged = null;
    const marker = document.createElement("li");
    marker.className = "drop-line";
    marker.setAttribute("aria-hidden", "true");

    const placeBefore = (list, y) => [...list.querySelectorAll(".entry:not(.dragging)")]
      .find((entry) => { const box = entry.getBoundingClientRect(); return y < box.top + box.height / 2; }) || null;

    lists.forEach((list) => {
      list.querySelectorAll(".entry[draggable]").forEach((entry) => {
        entry.addEventListener("dragstart", (event) => {
          dragged = entry;
          entry.classList.add("dragging");
          event.dataTransfer.effectAllowed = "move";
          event.dataTransfer.setData("text/plain", entry.dataset.itemId);
        });
        entry.addEventListener("dragend", () => {
          entry.classList.remove("dragging");
          marker.remove();
          lists.forEach((l) => l.classList.remove("drop-target"));
        });
      });
      list.addEventListener("dragover", (event) => {
        if (!dragged) return;
        event.preventDefault();
        lists.forEach((l) => l.classList.toggle("drop-target", l === list));
        list.insertBefore(marker, placeBefore(list, event.clientY));
      });
      list.addEventListener("drop", async (event) => {
        if (!dragged) return;
        event.preventDefault();
        const before = placeBefore(list, event.clientY);
        const position = [...list.querySelectorAll(".entry:not(.dragging)")].indexOf(before);
        const form = new FormData();
        form.set("item_id", dragged.dataset.itemId);
        form.set("section", list.dataset.section);
        form.set("position", String(position < 0 ? list.querySelectorAll(".entry:not(.dragging)").length : position));
        marker.remove();
        list.insertBefore(dragged, before);
        dragged = null;
        const response = await fetch(list.dataset.moveUrl, {
          method: "POST", body: form, credentials: "same-origin",
          headers: { "X-CSRFToken": csrf(), "X-Requested-With": "fetch" },
        });
        if (!response.ok) {
          const answer = await response.json().catch(() => ({}));
          const said = (answer.errors || []).map((error) => error.message).join(" ");
          window.alert(said || "The item could not be moved; the page reloads to show the order as it is.");
        }
        window.location.reload();  // the arrows, counts and the preview follow the new order
      });
    });
  }

  // The delivery progress: poll a small JSON endpoint while the edition is sending.
  function followProgress() {
    const card = document.querySelector("[data-progress-url]");
    if (!card || card.dataset.status !== "sending") return;
    const tick = async () => {
      let data;
      try {
        const response = await fetch(card.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (!response.ok) return setTimeout(tick, 5000);
        data = await response.json();
      } catch (error) {
        return setTimeout(tick, 5000);
      }
      const total = data.total || 1;
      card.querySelector(".progress .sent").style.width = `${(100 * data.sent) / total}%`;
      card.querySelector(".progress .failed").style.width = `${(100 * (data.failed + data.bounced)) / total}%`;
      card.querySelector(".progress").setAttribute("aria-valuenow", String(data.done_percent));
      for (const key of ["queued", "sent", "failed", "bounced", "complained", "total"]) {
        const cell = card.querySelector(`[data-count="${key}"]`);
        if (cell) cell.textContent = data[key];
      }
      const failuresShown = card.querySelectorAll("[data-failures] tbody tr").length;
      if (data.status !== "sending" || data.failures.length !== failuresShown) {
        window.location.reload();  // finished, paused, or new failures to list: the page says it all
        return;
      }
      setTimeout(tick, 2000);
    };
    setTimeout(tick, 1500);
  }

  // An edition's page follows its status: when the scheduler (or another editor) sends, cancels or
  // schedules it meanwhile, or another edition sends one of its items, the page reloads to say so.
  // (While sending, followProgress does this.)
  function followStatus() {
    const marker = document.querySelector("[data-follow-status]");
    if (!marker || !["draft", "scheduled", "paused"].includes(marker.dataset.followStatus)) return;
    const every = Number(marker.dataset.followEvery) || 5000;
    const tick = async () => {
      if (document.visibilityState === "visible") {
        try {
          const response = await fetch(marker.dataset.followUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
          const data = response.ok ? await response.json() : null;
          const leftOut = String(data ? data.left_out : marker.dataset.followLeftOut);
          if (data && (data.status !== marker.dataset.followStatus || leftOut !== marker.dataset.followLeftOut)) {
            window.location.reload();
            return;
          }
        } catch (error) {
          // the server is away for a moment: try again at the next tick
        }
      }
      setTimeout(tick, every);
    };
    setTimeout(tick, every);
  }

  // A flash message stays in view however the page was scrolled (e.g. to #send); a click dismisses it.
  function keepFlashesInView() {
    for (const flash of document.querySelectorAll(".flash")) {
      flash.classList.add("sticky");
      flash.title = "Click to dismiss";
      flash.addEventListener("click", () => flash.remove());
    }
  }

  // The item editor's live preview: the Markdown summary as it will be stored, and what saving removes.
  // The HTML comes from the server's own sanitiser (the STORED rules), the notes are set as text.
  function previewSummary() {
    const area = document.querySelector("textarea[data-preview-url]");
    if (!area) return;
    const wrap = document.querySelector(".summary-preview-wrap");
    const link = area.form.querySelector('input[name="url"]');
    let timer = null;
    const refresh = async () => {
      const form = new FormData();
      form.append("summary", area.value);
      form.append("url", link ? link.value : "");
      try {
        const response = await fetch(area.dataset.previewUrl, {
          method: "POST", body: form, credentials: "same-origin",
          headers: { "X-CSRFToken": csrf(), "X-Requested-With": "fetch" },
        });
        if (!response.ok) return;
        const data = await response.json();
        wrap.querySelector(".summary-preview").innerHTML = data.html;
        const list = wrap.querySelector(".summary-removed");
        list.replaceChildren(...data.removed.map((note) => Object.assign(document.createElement("li"), { textContent: `Removed on saving: ${note}` })));
        wrap.hidden = false;
      } catch (error) {
        // no preview this time; saving still works and says what it removed
      }
    };
    area.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 400);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    previewSummary();
    enableDragging();
    followProgress();
    followStatus();
    keepFlashesInView();
  });
})();
