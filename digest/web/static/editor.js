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
          window.alert(answer.error || "The item could not be moved; the page reloads to show the order as it is.");
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

  document.addEventListener("DOMContentLoaded", () => {
    enableDragging();
    followProgress();
  });
})();
