// The page's wiring: the login screen, the WebSocket (IRCv3, text.ircv3.net)
// with reconnect and backoff, the keyboard, notifications, and what the
// browser remembers (nick, account name, channels; never a password).

import { Chat, SERVER } from "./chat.mjs";
import { suggestNick, validNick } from "./irc.mjs";
import { View } from "./view.mjs";

const STORE = "tcpchat";
const BACKOFF = [1, 2, 4, 8, 15, 30]; // seconds before each try; the last repeats
const $ = (id) => document.getElementById(id);

function load() {
  try {
    return JSON.parse(localStorage.getItem(STORE) || "{}");
  } catch {
    return {};
  }
}

function save(chat) {
  try {
    localStorage.setItem(
      STORE,
      JSON.stringify({
        nick: chat.wantedNick,
        account: chat.account,
        channels: chat.channels,
        sendTyping: chat.sendTyping,
      }),
    );
  } catch {
    // Private browsing may refuse storage; the chat works without it.
  }
}

let chat = null;
let view = null;
let socket = null;
let tries = 0;
let retryTimer = null;
let retryAt = 0;
let drawScheduled = false;
const sent = []; // what was typed, for Up and Down
let recall = -1;
let completing = null; // { start, end, options, index } while Tab cycles

// -- the login screen -------------------------------------------------------

function showLogin() {
  const saved = load();
  $("nick").value = saved.nick || suggestNick();
  $("account").value = saved.account || "";
  if (saved.account) $("login-details").open = true;
  $("nick").select();
  $("nick").focus();
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const nick = $("nick").value.trim();
    const account = $("account").value.trim();
    const password = $("password").value;
    if (!validNick(nick)) {
      $("login-error").textContent =
        "A nickname is 1 to 30 letters, digits, - or _, and starts with a letter.";
      $("nick").focus();
      return;
    }
    if (account && !password) {
      $("login-error").textContent = "Give the account's password, or leave the account empty.";
      $("password").focus();
      return;
    }
    const channels = saved.channels && saved.channels.length ? saved.channels : ["#lobby"];
    start(nick, account, password, channels, saved.sendTyping !== false);
  });
}

function start(nick, account, password, channels, sendTyping = true) {
  chat = new Chat({ nick, account, password, channels, sendTyping });
  chat.active = SERVER;
  view = new View(document, chat, {
    select: (key) => {
      chat.select(key);
      closeDrawers();
      draw();
      $("message").focus();
    },
    older: (key) => {
      chat.older(key);
      pump();
    },
    close: (key) => {
      chat.close(key);
      pump();
      draw();
    },
    query: (nick) => {
      chat.input(`/query ${nick}`);
      closeDrawers();
      draw();
      $("message").focus();
    },
    insert: (text) => insert(text),
    reply: (key, msgid) => {
      const conv = chat.conversations.get(key);
      const line = conv && chat.lineById(conv, msgid);
      if (line) chat.startReply(key, line);
      draw();
      $("message").focus();
    },
    react: (key, msgid, emoji) => {
      chat.react(key, msgid, emoji);
      pump();
    },
    redact: (key, msgid) => {
      const conv = chat.conversations.get(key);
      const line = conv && chat.lineById(conv, msgid);
      if (line && window.confirm(`Delete this message for everyone?\n\n${line.text.slice(0, 200)}`)) {
        chat.redact(key, msgid);
        pump();
      }
      $("message").focus();
    },
  });
  $("login").hidden = true;
  $("app").hidden = false;
  $("send-typing").checked = chat.sendTyping;
  wireKeys();
  wireNotifications();
  connect();
  draw();
  $("message").focus();
}

// -- the socket -------------------------------------------------------------

function connect() {
  clearTimeout(retryTimer);
  retryTimer = null;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  chat.status = "connecting";
  chat.changed.add("status");
  view.banner("Connecting…", false);
  let ws;
  try {
    ws = new WebSocket(`${scheme}://${location.host}/socket`, ["text.ircv3.net"]);
  } catch (error) {
    lost(`cannot connect: ${error.message}`);
    return;
  }
  socket = ws;
  ws.addEventListener("open", () => {
    if (ws !== socket) return;
    chat.open();
    pump();
    draw();
  });
  ws.addEventListener("message", (event) => {
    if (ws !== socket) return;
    const was = chat.registered;
    chat.receive(typeof event.data === "string" ? event.data : "");
    if (chat.registered && !was) {
      tries = 0;
      view.banner("", false);
    }
    pump();
    draw();
  });
  ws.addEventListener("close", (event) => {
    if (ws !== socket) return;
    socket = null;
    lost(event.reason || (event.code === 1006 ? "the server cannot be reached" : `closed (${event.code})`));
  });
}

function lost(reason) {
  chat.closed(reason);
  const wait = BACKOFF[Math.min(tries, BACKOFF.length - 1)] * (0.8 + Math.random() * 0.4);
  tries += 1;
  retryAt = Date.now() + wait * 1000;
  retryTimer = setTimeout(connect, wait * 1000);
  tick();
  draw();
}

function tick() {
  if (!retryTimer) return;
  const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
  view.banner(`Disconnected. Reconnecting in ${seconds} s…`, true);
  setTimeout(tick, 1000);
}

function pump() {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    chat.take();
    return;
  }
  for (const line of chat.take()) socket.send(line);
}

// -- drawing ----------------------------------------------------------------

function draw() {
  if (drawScheduled) return;
  drawScheduled = true;
  const run = () => {
    drawScheduled = false;
    const changed = chat.changed;
    chat.changed = new Set();
    view.update(changed);
    if (changed.has("saved")) save(chat);
    if (changed.has("status") && chat.loginError) view.banner(chat.loginError, false);
    for (const alert of chat.alerts.splice(0)) notify(alert);
  };
  if (document.hidden) setTimeout(run, 100);
  else requestAnimationFrame(run);
}

// -- the keyboard -----------------------------------------------------------

function wireKeys() {
  $("send-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const box = $("message");
    const text = box.value;
    if (!text.trim()) return;
    sent.push(text);
    if (sent.length > 100) sent.shift();
    recall = -1;
    box.value = "";
    chat.input(text);
    pump();
    draw();
  });
  $("message").addEventListener("input", () => {
    chat.typed($("message").value); // typing notifications, where the setting allows
    pump();
  });
  $("message").addEventListener("paste", (event) => {
    // Several lines pasted: sent as one message, after asking (IRCv3 multiline).
    const text = event.clipboardData ? event.clipboardData.getData("text") : "";
    const lines = text.split(/\r?\n/).filter((l) => l.trim());
    if (lines.length < 2) return;
    event.preventDefault();
    const conv = chat.conversations.get(chat.active);
    if (window.confirm(`Send these ${lines.length} lines to ${conv.name}?\n\n${lines.slice(0, 5).join("\n")}`)) {
      chat.input(lines.join("\n"));
      pump();
      draw();
    }
  });
  $("reply-cancel").addEventListener("click", () => {
    chat.cancelReply();
    draw();
    $("message").focus();
  });
  $("send-typing").addEventListener("change", () => {
    chat.sendTyping = $("send-typing").checked;
    save(chat);
  });
  // Typing notifications run out: look again every second while anyone types.
  setInterval(() => {
    const conv = chat.conversations.get(chat.active);
    if (conv && conv.typing.size) {
      chat.changed.add("typing");
      draw();
    }
  }, 1000);
  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Tab" && !event.shiftKey && !event.altKey && !event.ctrlKey) {
      if (complete()) event.preventDefault();
      return;
    }
    completing = null;
    const box = $("message");
    if (event.key === "ArrowUp" && !event.altKey && !event.ctrlKey && sent.length && !box.value.includes("\n")) {
      if (recall === -1 && box.value) return;
      recall = recall === -1 ? sent.length - 1 : Math.max(0, recall - 1);
      box.value = sent[recall];
      event.preventDefault();
    } else if (event.key === "ArrowDown" && !event.altKey && !event.ctrlKey && recall !== -1) {
      recall += 1;
      box.value = recall < sent.length ? sent[recall] : "";
      if (recall >= sent.length) recall = -1;
      event.preventDefault();
    } else if (event.key === "PageUp" || event.key === "PageDown") {
      view.scrollBy(event.key === "PageUp" ? -1 : 1);
      event.preventDefault();
    }
  });
  document.addEventListener("keydown", (event) => {
    const step = event.key === "ArrowUp" ? -1 : event.key === "ArrowDown" ? 1 : 0;
    if (step && (event.altKey || event.ctrlKey)) {
      const at = chat.order.indexOf(chat.active);
      const next = chat.order[(at + step + chat.order.length) % chat.order.length];
      chat.select(next);
      draw();
      event.preventDefault();
    } else if (event.altKey && /^[1-9]$/.test(event.key)) {
      const key = chat.order[Number(event.key) - 1];
      if (key) {
        chat.select(key);
        draw();
        event.preventDefault();
      }
    } else if (event.key === "Escape") {
      if (chat.replying) {
        chat.cancelReply();
        draw();
      }
      closeDrawers();
      $("emoji-panel").hidden = true;
      $("emoji-button").setAttribute("aria-expanded", "false");
      $("message").focus();
    }
  });
  $("menu-button").addEventListener("click", () => toggleDrawer("sidebar", "menu-button"));
  $("members-button").addEventListener("click", () => toggleDrawer("members", "members-button"));
  $("emoji-button").addEventListener("click", () => {
    const panel = $("emoji-panel");
    panel.hidden = !panel.hidden;
    $("emoji-button").setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) panel.querySelector("button").focus();
  });
  $("reconnect-now").addEventListener("click", () => connect());
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("join-input").value.trim();
    if (!name) return;
    $("join-input").value = "";
    chat.input(`/join ${name}`);
    pump();
    closeDrawers();
    draw();
    $("message").focus();
  });
  window.addEventListener("online", () => {
    if (!socket) connect();
  });
}

function toggleDrawer(id, buttonId) {
  const open = !$(id).classList.contains("open");
  closeDrawers();
  $(id).classList.toggle("open", open);
  $(buttonId).setAttribute("aria-expanded", String(open));
  if (open) {
    const first = $(id).querySelector("button, input");
    if (first) first.focus();
  }
}

function closeDrawers() {
  for (const [id, button] of [["sidebar", "menu-button"], ["members", "members-button"]]) {
    $(id).classList.remove("open");
    $(button).setAttribute("aria-expanded", "false");
  }
}

/** Tab: the nick (or channel) that starts with the word before the cursor; again for the next. */
function complete() {
  const box = $("message");
  if (!completing) {
    const end = box.selectionStart;
    const before = box.value.slice(0, end);
    const start = before.search(/\S+$/);
    if (start === -1) return false;
    const options = chat.completions(before.slice(start));
    if (!options.length) return false;
    completing = { start, end, options, index: 0 };
  } else {
    completing.index = (completing.index + 1) % completing.options.length;
  }
  const { start, options, index } = completing;
  const word = options[index] + (start === 0 && !options[index].startsWith("#") ? ": " : " ");
  const rest = box.value.slice(completing.end);
  box.value = box.value.slice(0, start) + word + rest;
  completing.end = start + word.length;
  box.setSelectionRange(completing.end, completing.end);
  return true;
}

function insert(text) {
  const box = $("message");
  const at = box.selectionStart ?? box.value.length;
  box.value = box.value.slice(0, at) + text + box.value.slice(box.selectionEnd ?? at);
  box.focus();
  box.setSelectionRange(at + text.length, at + text.length);
}

// -- notifications ----------------------------------------------------------

function wireNotifications() {
  const button = $("notify-button");
  const note = $("notify-note");
  const explain = () => {
    if (!window.isSecureContext || !("Notification" in window)) {
      button.disabled = true;
      note.textContent =
        "Notifications need a secure page (https://, or this computer's own address); this one is not.";
    } else if (Notification.permission === "granted") {
      button.disabled = true;
      note.textContent = "Notifications are on for mentions and private messages.";
    } else if (Notification.permission === "denied") {
      button.disabled = true;
      note.textContent = "Notifications are blocked in this browser's settings for this page.";
    } else {
      note.textContent = "Get a notification when someone mentions you.";
    }
  };
  explain();
  button.addEventListener("click", async () => {
    try {
      await Notification.requestPermission();
    } catch {
      // Older browsers take a callback instead; the note says what happened.
    }
    explain();
  });
}

function notify({ key, line }) {
  if (!window.isSecureContext || !("Notification" in window)) return;
  if (Notification.permission !== "granted" || (!document.hidden && document.hasFocus())) return;
  const conv = chat.conversations.get(key);
  if (!conv) return;
  const title = conv.kind === "private" ? line.nick : `${line.nick} in ${conv.name}`;
  const note = new Notification(title, { body: line.text, tag: key, icon: "icon.svg" });
  note.addEventListener("click", () => {
    window.focus();
    chat.select(key);
    draw();
    note.close();
  });
}

showLogin();
