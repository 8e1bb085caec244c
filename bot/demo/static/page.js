"use strict";
// The demo's Slack client. The server renders what the bot sent (escaped) and turns each use
// of an element into the payload Slack would send; this script only says which element was
// used and what the person entered, and polls for what changed.
const state = { me: null, channel: null, modalKey: null, seen: {}, unread: new Set(), samples: [] };
let queue = Promise.resolve();

function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 5000);
}

async function api(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    toast(answer.problem || `The demo answered ${response.status}`);
    throw new Error(answer.problem || String(response.status));
  }
  return answer;
}

// One request at a time, in the order the person acted; then show what changed.
function send(path, body) {
  queue = queue.then(() => api(path, body)).catch(() => null).then(() => refresh());
  return queue;
}

function entriesOf(root) {
  const out = {};
  for (const el of root.querySelectorAll(".entry")) {
    const kind = el.dataset.kind;
    let value;
    if (kind === "checkboxes" || kind === "radio_buttons") {
      const ticked = [...el.querySelectorAll("input:checked")].map((input) => input.value);
      value = kind === "checkboxes" ? ticked : (ticked[0] || null);
    } else if (kind === "multi_static_select") {
      value = [...el.selectedOptions].map((option) => option.value);
    } else if (kind === "file_input") {
      value = JSON.parse(el.dataset.files || "[]");
    } else {
      value = el.value || null;
    }
    (out[el.dataset.block] = out[el.dataset.block] || {})[el.dataset.action] = value;
  }
  return out;
}

function modalRoot() { return document.querySelector("#modal .modal"); }

function useElement(el) {
  const modal = el.closest(".modal");
  if (modal) {
    return send("/demo/api/view", {
      user: state.me, view: modal.dataset.view, op: "use",
      block: el.dataset.block, action: el.dataset.action, entries: entriesOf(modal),
    });
  }
  const message = el.closest(".msg");
  return send("/demo/api/message", {
    user: state.me, channel: message.dataset.channel, ts: message.dataset.ts,
    block: el.dataset.block, action: el.dataset.action,
  });
}

function withConfirm(button, then) {
  const template = button.parentElement.querySelector("template.confirm");
  if (!template) { then(); return; }
  const box = document.getElementById("confirm");
  box.replaceChildren(template.content.cloneNode(true));
  box.hidden = false;
  box.querySelector(".deny").onclick = () => { box.hidden = true; };
  box.querySelector(".yes").onclick = () => { box.hidden = true; then(); };
}

function attachFile(holder, file) {
  const files = JSON.parse(holder.dataset.files || "[]");
  files.push(file);
  holder.dataset.files = JSON.stringify(files);
  const item = document.createElement("li");
  item.textContent = `📎 ${file.name}`;
  holder.querySelector("ul").append(item);
}

async function upload(holder, input) {
  for (const file of input.files) {
    const body = { user: state.me, name: file.name, text: await file.text() };
    attachFile(holder, await api("/demo/api/upload", body));
  }
  input.value = "";
}

function addSampleButtons(root) {
  for (const holder of root.querySelectorAll(".entry.files")) {
    const spot = holder.querySelector(".samples");
    const accepted = holder.querySelector("input[type=file]").accept.split(",").filter(Boolean);
    const fits = (name) => !accepted.length || accepted.some((kind) => name.endsWith(kind));
    for (const name of state.samples.filter(fits)) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn";
      button.textContent = `Attach sample ${name}`;
      button.onclick = async () => attachFile(holder, await api("/demo/api/sample", { user: state.me, name }));
      spot.append(button);
    }
    holder.querySelector("input[type=file]").onchange = (event) => upload(holder, event.target);
  }
}

function showChannel(id) {
  state.channel = id;
  state.unread.delete(id);
  for (const pane of document.querySelectorAll(".pane")) pane.hidden = pane.dataset.channel !== id;
  for (const button of document.querySelectorAll("#channels button")) {
    button.classList.toggle("current", button.dataset.channel === id);
    button.classList.toggle("unread", state.unread.has(button.dataset.channel));
  }
  const button = document.querySelector(`#channels button[data-channel="${id}"]`);
  document.getElementById("channel-title").textContent = button ? button.textContent : "";
  const panes = document.getElementById("panes");
  panes.scrollTop = panes.scrollHeight;
}

function showChannels(channels) {
  const nav = document.getElementById("channels");
  const panes = document.getElementById("panes");
  for (const channel of channels) {
    let pane = panes.querySelector(`.pane[data-channel="${channel.id}"]`);
    if (!pane) {
      pane = document.createElement("div");
      pane.className = "pane";
      pane.dataset.channel = channel.id;
      panes.append(pane);
      const button = document.createElement("button");
      button.dataset.channel = channel.id;
      button.textContent = channel.id.startsWith("D") ? channel.name : `# ${channel.name}`;
      button.onclick = () => showChannel(channel.id);
      nav.append(button);
    }
    if (state.seen[channel.id] !== channel.html) {
      const first = state.seen[channel.id] === undefined;
      state.seen[channel.id] = channel.html;
      pane.innerHTML = channel.html;
      if (!first && channel.id !== state.channel) state.unread.add(channel.id);
      if (channel.id === state.channel) panes.scrollTop = panes.scrollHeight;
    }
  }
  showChannel(state.channel || channels[0].id);
}

function showModal(modal) {
  const overlay = document.getElementById("overlay");
  if (!modal) {
    overlay.hidden = true;
    state.modalKey = null;
    document.getElementById("modal").replaceChildren();
    return;
  }
  overlay.hidden = false;
  if (state.modalKey === modal.key) return;
  state.modalKey = modal.key;
  document.getElementById("modal").innerHTML = modal.html;
  addSampleButtons(modalRoot());
}

async function refresh() {
  const response = await fetch(`/demo/api/screen?user=${encodeURIComponent(state.me)}`);
  if (!response.ok) return;
  const screen = await response.json();
  showChannels(screen.channels);
  showModal(screen.modal);
}

async function poll() {
  try { await refresh(); } catch (error) { /* the demo stopped; try again */ }
  setTimeout(poll, 700);
}

document.addEventListener("click", (event) => {
  const el = event.target.closest("button");
  if (!el || el.closest("#confirm")) return;
  if (el.hasAttribute("data-submit")) {
    const modal = el.closest(".modal");
    send("/demo/api/view", { user: state.me, view: modal.dataset.view, op: "submit", entries: entriesOf(modal) });
  } else if (el.hasAttribute("data-close")) {
    send("/demo/api/view", { user: state.me, view: el.closest(".modal").dataset.view, op: "close", entries: {} });
  } else if (el.dataset.kind === "button") {
    withConfirm(el, () => useElement(el));
  }
});

document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches("select[data-dispatch='1']") && el.closest(".modal")) useElement(el);
});

document.getElementById("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("command");
  const text = input.value.trim();
  input.value = "";
  const channel = state.channel.startsWith("D") ? "C0OPS" : state.channel;
  send("/demo/api/command", { user: state.me, channel, text });
});

async function start() {
  const setup = await (await fetch("/demo/api/setup")).json();
  state.samples = setup.samples.map((sample) => sample.name);
  document.getElementById("azure-tenant").textContent = setup.azure.tenant;
  document.getElementById("azure-client").textContent = setup.azure.client_id;
  document.getElementById("azure-secret").textContent = setup.azure.secret;
  const people = document.getElementById("person");
  for (const person of setup.people) {
    const option = document.createElement("option");
    option.value = person.id;
    option.textContent = `${person.name} (${person.role})`;
    people.append(option);
  }
  state.me = setup.people[0].id;
  people.onchange = () => { state.me = people.value; state.modalKey = null; state.seen = {}; refresh(); };
  const downloads = document.getElementById("downloads");
  for (const sample of setup.samples) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = sample.url;
    link.download = sample.name;
    link.textContent = sample.name;
    item.append(link);
    downloads.append(item);
  }
  poll();
}

start();
