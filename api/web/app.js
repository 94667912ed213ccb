// studyhub web client: plain JavaScript over the REST API and the /ws chat protocol
// (docs/chat.md). It keeps the last seq it has per room and, after any reconnect or reload,
// asks for everything after it, so nothing is missed; a message it sent but has no ack for is
// sent again with the same client_msg_id, so nothing is doubled either.
"use strict";

const $ = (id) => document.getElementById(id);

// Ids are 64-bit; a JavaScript number holds 53 bits. Parse any integer too big for a number
// from its source text, as a string (exact), and send it back as that string: the API accepts
// numeric strings for ids.
const parse = (text) => JSON.parse(text, (key, value, context) =>
  typeof value === "number" && !Number.isSafeInteger(value) && context ? context.source : value);
const state = {
  token: sessionStorage.getItem("token"),
  me: null,
  room: null,          // the open room's state from GET /rooms/{id}
  seqs: new Set(),     // seqs shown in the open room
  lastSeq: 0,
  outbox: new Map(),   // client_msg_id -> frame, until acked
  ws: null,
  attempt: 0,
  names: new Map(),
  typing: new Map(),   // user_id -> expiry time
};

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && state.token) { logout(); throw new Error("session expired"); }
  const body = response.status === 204 ? null : parse(await response.text());
  if (!response.ok) throw new Error(body && body.message ? body.message : response.statusText);
  return body;
}

// -- auth ---------------------------------------------------------------------------------

async function login(username, password) {
  const form = new URLSearchParams({ username, password });
  const token = await api("/auth/token", { method: "POST", body: form });
  state.token = token.access_token;
  sessionStorage.setItem("token", state.token);
  await start();
}

$("auth-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("auth-error").textContent = "";
  try { await login($("username").value, $("password").value); }
  catch (error) { $("auth-error").textContent = error.message; }
});

$("signup").addEventListener("click", async () => {
  $("auth-error").textContent = "";
  const username = $("username").value, password = $("password").value;
  try {
    await api("/auth/register", { method: "POST", json: { username, password, display_name: username } });
    await login(username, password);
  } catch (error) { $("auth-error").textContent = error.message; }
});

function logout() {
  sessionStorage.removeItem("token");
  location.reload();
}

async function start() {
  state.me = await api("/users/me");
  $("me").textContent = state.me.display_name;
  $("auth").hidden = true;
  $("app").hidden = false;
  await loadRooms();
  await loadFocus();
  connect();
  const saved = sessionStorage.getItem("room");
  if (saved) await openRoom(saved, false);
}

// -- rooms --------------------------------------------------------------------------------

async function loadRooms() {
  const topic = $("topic-filter").value.trim().toLowerCase();
  const page = await api(`/rooms?limit=50${topic ? `&topic=${encodeURIComponent(topic)}` : ""}`);
  $("rooms").replaceChildren(...page.items.map((room) => {
    const item = document.createElement("li");
    item.textContent = `${room.name} · ${room.topic} (${room.participant_count}/${room.capacity})`;
    item.dataset.roomId = room.id;
    item.addEventListener("click", () => openRoom(room.id, true));
    return item;
  }));
}

$("refresh").addEventListener("click", loadRooms);
$("topic-filter").addEventListener("change", loadRooms);

$("new-room").addEventListener("submit", async (event) => {
  event.preventDefault();
  const room = await api("/rooms", { method: "POST", json: { name: $("room-name").value, topic: $("room-topic").value } });
  await loadRooms();
  await openRoom(room.id, false);
});

async function openRoom(roomId, join) {
  $("room-error").textContent = "";
  try {
    state.room = join ? await api(`/rooms/${roomId}/join`, { method: "POST" }) : await api(`/rooms/${roomId}`);
  } catch (error) { $("room-error").textContent = error.message; return; }
  sessionStorage.setItem("room", String(state.room.id));
  state.seqs.clear();
  state.lastSeq = 0;
  $("messages").replaceChildren();
  $("room").hidden = false;
  $("room-title").textContent = `${state.room.name} · ${state.room.topic}`;
  renderTimer();
  await loadPeople();
  subscribe();
}

async function loadPeople() {
  const page = await api(`/rooms/${state.room.id}/participants?limit=200`);
  const ids = page.items.map((p) => p.user_id);
  const presence = ids.length ? await api(`/presence?ids=${ids.join(",")}`) : [];
  await Promise.all(ids.filter((id) => !state.names.has(id)).map(async (id) => {
    const user = await api(`/users/${id}`);
    state.names.set(id, user.display_name);
  }));
  $("people").replaceChildren(...presence.map((p) => {
    const item = document.createElement("li");
    item.textContent = state.names.get(p.user_id) || p.user_id;
    item.dataset.userId = p.user_id;
    item.className = p.status;
    return item;
  }));
}

// -- focus stats (GET /users/me/focus, GET /focus/leaderboard) ----------------------------

function minutes(seconds) {
  return seconds >= 3600 ? `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`
    : `${Math.round(seconds / 60)} min`;
}

async function loadFocus() {
  const mine = await api("/users/me/focus?days=7");
  const week = mine.days.reduce((sum, d) => sum + d.seconds, 0);
  $("focus-summary").textContent =
    `${minutes(week)} in rooms this past week · streak ${mine.streak_days} day${mine.streak_days === 1 ? "" : "s"}`;
  $("focus-days").replaceChildren(...mine.days.map((d) => {
    const item = document.createElement("li");
    item.textContent = `${d.day}: ${minutes(d.seconds)} (${minutes(d.focus_seconds)} focus)`;
    return item;
  }));
  const board = await api(`/focus/leaderboard?period=${$("board-period").value}&scope=${$("board-scope").value}&limit=10`);
  $("board").replaceChildren(...board.items.map((e) => {
    const item = document.createElement("li");
    item.textContent = `${e.username}: ${minutes(e.seconds)}`;
    if (e.user_id === state.me.id) item.className = "me";
    return item;
  }));
}

$("focus-refresh").addEventListener("click", loadFocus);
$("board-period").addEventListener("change", loadFocus);
$("board-scope").addEventListener("change", loadFocus);

// -- timer --------------------------------------------------------------------------------

function renderTimer() {
  const timer = state.room && state.room.timer;
  if (!timer) return;
  $("timer-phase").textContent = `${timer.phase} (${timer.status})`;
  let seconds = timer.remaining_seconds;
  if (timer.status === "running" && timer.ends_at) {
    seconds = Math.max(0, Math.round((Date.parse(timer.ends_at) - Date.now()) / 1000));
  }
  $("timer-clock").textContent = seconds == null ? "--:--"
    : `${String(Math.floor(seconds / 60)).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
}
setInterval(renderTimer, 1000);

document.querySelectorAll("[data-timer]").forEach((button) => button.addEventListener("click", async () => {
  try {
    state.room = await api(`/rooms/${state.room.id}/timer`, { method: "POST", json: { action: button.dataset.timer } });
    renderTimer();
  } catch (error) { $("room-error").textContent = error.message; }
}));

// -- chat over the WebSocket ----------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(state.token)}`);
  state.ws = ws;
  ws.onopen = () => {
    // The backoff resets on the server's welcome, not here: a gateway whose store is away
    // opens the socket, says "unavailable" and closes it with 1013.
    $("conn").textContent = "online";
    $("conn").className = "conn on";
    subscribe();
  };
  ws.onmessage = (event) => handle(parse(event.data));
  ws.onclose = (event) => {
    $("conn").textContent = "offline";
    $("conn").className = "conn off";
    if (event.code === 1008) { logout(); return; }
    // Jittered exponential backoff, so a restarted server is not hit by every client at once.
    const delay = Math.min(10000, 500 * 2 ** state.attempt) * (0.5 + Math.random());
    state.attempt += 1;
    setTimeout(connect, delay);
  };
}

function sendFrame(frame) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
}

function subscribe() {
  if (!state.room || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
  const room_id = state.room.id;
  if (state.lastSeq > 0) {
    // After a reconnect: everything after the last seq we have, then live, in one order.
    sendFrame({ type: "subscribe", room_id, after_seq: state.lastSeq });
  } else {
    // A fresh open: live from now on, and the newest page of history (which reaches at
    // least the last_seq the subscribe reports, so nothing falls between the two).
    sendFrame({ type: "subscribe", room_id });
    sendFrame({ type: "history", room_id, limit: 50 });
  }
  for (const frame of state.outbox.values()) sendFrame(frame);  // unacked sends, same ids
  sendFrame({ type: "heartbeat" });
}
setInterval(() => sendFrame({ type: "heartbeat" }), 60000);

function handle(frame) {
  switch (frame.type) {
    case "message": return showMessage(frame);
    case "message_removed": {
      // A moderator removed it: gone for everyone (its seq stays seen, so it never returns).
      const removed = document.querySelector(`#messages li[data-seq="${frame.seq}"]`);
      if (removed && state.room && frame.room_id === state.room.id) removed.remove();
      return;
    }
    case "history":
      frame.messages.forEach(showMessage);
      $("older").hidden = !frame.has_more;
      return;
    case "ack": {
      state.outbox.delete(frame.client_msg_id);
      const pending = document.querySelector(`[data-client-msg-id="${frame.client_msg_id}"]`);
      if (pending) pending.remove();
      return;
    }
    case "typing":
      state.typing.set(frame.user_id, Date.now() + 5000);
      return renderTyping();
    case "presence": {
      const item = document.querySelector(`#people [data-user-id="${frame.user_id}"]`);
      if (item) item.className = frame.status;
      return;
    }
    case "room":
      if (state.room && frame.room_id === state.room.id) {
        if (frame.room) { state.room = frame.room; renderTimer(); }
        if (frame.event === "joined" || frame.event === "left") loadPeople();
      }
      return;
    case "subscribed":
      if (frame.missing) {
        // Too far behind to recover everything: show the gap; "older" pages it in.
        $("older").hidden = false;
      }
      return;
    case "error":
      if (frame.code === "rate_limited" && state.outbox.has(frame.ref)) {
        setTimeout(() => sendFrame(state.outbox.get(frame.ref)), 1000);
      } else if (frame.code === "message_blocked" && state.outbox.has(frame.ref)) {
        // Not sent: say why on the message itself, and give the text back to edit.
        const blocked = state.outbox.get(frame.ref);
        state.outbox.delete(frame.ref);
        const pending = document.querySelector(`[data-client-msg-id="${frame.ref}"]`);
        if (pending) {
          pending.className = "blocked";
          pending.title = frame.message;
          pending.textContent = `${blocked.body} (not sent: ${frame.message})`;
        }
        if (!$("body").value) $("body").value = blocked.body;
      } else {
        $("room-error").textContent = frame.message;
      }
      return;
    case "welcome":
      state.attempt = 0;
      return;
    default:
      return;  // resumed, heartbeat_ack
  }
}

function showMessage(message) {
  if (!state.room || message.room_id !== state.room.id || state.seqs.has(message.seq)) return;
  state.seqs.add(message.seq);
  state.lastSeq = Math.max(state.lastSeq, message.seq);
  const item = document.createElement("li");
  item.dataset.seq = message.seq;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = state.names.get(message.user_id) || `user ${message.user_id}`;
  const body = document.createElement("span");
  body.className = "body";
  body.textContent = message.body;
  item.append(who, body);
  if (state.me && message.user_id !== state.me.id) {
    const report = document.createElement("button");
    report.className = "report";
    report.type = "button";
    report.textContent = "report";
    report.title = "Report this message to the moderators";
    report.addEventListener("click", async () => {
      const reason = prompt("Why are you reporting this message?");
      if (!reason) return;
      try {
        await api("/reports", { method: "POST", json: { room_id: message.room_id, message_id: message.message_id, reason } });
        report.textContent = "reported";
        report.disabled = true;
      } catch (error) { $("room-error").textContent = error.message; }
    });
    item.append(report);
  }
  if (message.masked) {
    // The room masks: the others see the words starred; the author sees what they wrote.
    const note = document.createElement("span");
    note.className = "note";
    note.textContent = state.me && message.user_id === state.me.id ? " (others see it masked)" : " (masked)";
    item.append(note);
  }
  state.typing.delete(message.user_id);
  renderTyping();
  // Keep seq order even when history and live messages arrive interleaved.
  const list = $("messages");
  const after = [...list.querySelectorAll("li[data-seq]")].find((li) => Number(li.dataset.seq) > message.seq);
  list.insertBefore(item, after || list.querySelector("li.pending"));
  if (!after) list.scrollTop = list.scrollHeight;
}

$("older").addEventListener("click", () => {
  const first = $("messages").querySelector("li[data-seq]");
  if (first) sendFrame({ type: "history", room_id: state.room.id, before_seq: Number(first.dataset.seq), limit: 50 });
});

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const body = $("body").value;
  if (!body.trim() || !state.room) return;
  const frame = { type: "send", room_id: state.room.id, client_msg_id: crypto.randomUUID(), body };
  state.outbox.set(frame.client_msg_id, frame);
  const item = document.createElement("li");
  item.className = "pending";
  item.dataset.clientMsgId = frame.client_msg_id;
  item.textContent = body;
  $("messages").append(item);
  sendFrame(frame);
  $("body").value = "";
});

let lastTyping = 0;
$("body").addEventListener("input", () => {
  if (state.room && Date.now() - lastTyping > 2000) {
    lastTyping = Date.now();
    sendFrame({ type: "typing", room_id: state.room.id });
  }
});

function renderTyping() {
  const now = Date.now();
  const names = [...state.typing].filter(([, until]) => until > now).map(([id]) => state.names.get(id) || `user ${id}`);
  $("typing").textContent = names.length ? `${names.join(", ")} ${names.length > 1 ? "are" : "is"} typing…` : "";
}
setInterval(renderTyping, 1000);

if (state.token) start().catch(() => logout());
