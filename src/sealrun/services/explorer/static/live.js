// Progressive enhancement: append the task's new timeline steps as the scheduler records them.
// The page is complete without this script; it never builds HTML from strings.
"use strict";
(function () {
  var list = document.getElementById("timeline");
  if (!list || !list.dataset.events || !window.EventSource) { return; }
  var names = { pending: "scheduled", assigned: "assigned", running: "ran", submitted: "sealed",
                completed: "settled", failed: "settled", expired: "expired" };
  var source = new EventSource(list.dataset.events);
  source.addEventListener("status", function (message) {
    var event = JSON.parse(message.data);
    var item = document.createElement("li");
    item.className = "step step-" + event.status;
    var name = document.createElement("span");
    name.className = "step-name";
    name.textContent = names[event.status] || event.status;
    var status = document.createElement("span");
    status.className = "step-status";
    status.textContent = " " + event.status + " ";
    var detail = document.createElement("span");
    detail.className = "step-detail";
    var held = event.worker && ["assigned", "running", "submitted"].indexOf(event.status) >= 0;
    detail.textContent = held ? "worker " + event.worker + ", attempt " + event.attempt : event.detail;
    item.append(name, status, detail);
    list.appendChild(item);
    var pool = document.getElementById("pool-status");
    if (pool) { pool.textContent = event.status + ", attempt " + event.attempt; }
    if (["completed", "failed", "expired"].indexOf(event.status) >= 0) { source.close(); }
  });
})();
