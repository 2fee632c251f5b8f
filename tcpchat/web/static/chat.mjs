// The chat as the page keeps it, with no I/O and no drawing: conversations,
// members, registration, commands typed in the box. app.mjs feeds it the
// lines the socket receives (receive) and what the person types (input), and
// sends what it queues (take); view.mjs draws what it says has changed.

import {
  actionText,
  byteLength,
  casefold,
  format,
  isChannel,
  mentions,
  nickOf,
  parse,
  saslPlain,
  splitText,
  stripFormatting,
  suggestNick,
  validNick,
} from "./irc.mjs";
import { HistoryTracker, MISSED, OLDER, RECENT } from "./history.mjs";
import {
  CONCAT,
  MULTILINE,
  MultilineCollector,
  PROFILE_KEYS,
  TYPING_INTERVAL,
  TYPING_SHOWN,
  batchLines,
  formatTagged,
  multilineLimits,
  profileColour,
} from "./ircv3.mjs";

export const SERVER = "*"; // the server's conversation: no nick or channel is "*"

const WANTED_CAPS = [
  "message-tags",
  "server-time",
  "echo-message",
  "batch",
  "draft/chathistory",
  "multi-prefix",
  "away-notify",
  "account-notify",
  "cap-notify",
  "setname",
  MULTILINE,
  "draft/read-marker",
  "draft/message-redaction",
  "draft/metadata-2",
  "standard-replies",
];
const MESSAGE_KINDS = ["message", "action", "notice"];
const MAX_LINES = 2000; // per conversation; the oldest go past this
const TRIM_LINES = 200; // how many go at once, so a full conversation is not redrawn each line

export const HELP = [
  "Type a message and press Enter to send it to this conversation.",
  "/join #channel — join (or create) a channel",
  "/part [reason] — leave this channel",
  "/msg nick message — a private message",
  "/query nick — open a private chat with nick",
  "/me does something — an action",
  "/nick newname — change your nickname",
  "/topic [new topic] — show or set this channel's topic",
  "/away [message] — mark yourself away; /away alone to come back",
  "/whois nick — who someone is",
  "/close — leave this channel or close this chat",
  "/quote LINE — send a raw IRC line",
  "/display [name] — the name others see beside your nick; alone, none",
  "/colour [#rrggbb] — the colour of your nick for others",
  "Point at a message for Reply, reactions and (your own) Delete.",
  "Keys: Tab completes nicks, Alt+↑/↓ (or Ctrl+↑/↓) change conversation, Esc returns here.",
];

const HEADINGS = { [RECENT]: "Earlier in this channel", [MISSED]: "While you were away" };

export class Chat {
  constructor({
    nick,
    account = "",
    password = "",
    channels = ["#lobby"],
    now = () => new Date(),
    sendTyping = true,
  }) {
    this.wantedNick = nick;
    this.me = nick;
    this.account = account;
    this.password = password;
    this.channels = [...channels]; // joined, in order: rejoined after a reconnect
    this.now = now;
    this.status = "offline"; // offline | connecting | registering | online
    this.conversations = new Map();
    this.order = []; // keys, as the list shows them
    this.active = SERVER;
    this.history = new HistoryTracker();
    this.changed = new Set(); // what to redraw: "list", "status", a conversation key
    this.alerts = []; // { key, line } worth a notification
    this.loginError = "";
    this.loggedIn = "";
    this.away = false;
    this.nextId = 1;
    this.sendTyping = sendTyping; // tell others when we type (IRCv3 +typing): a setting
    this.multiline = new MultilineCollector();
    this.profiles = new Map(); // folded nick -> { displayName, colour } (IRCv3 metadata)
    this.typingSent = new Map(); // folded conversation -> when we last said we typed
    this.replying = null; // { key, line } while the next message answers a line
    this.batches = 0;
    this.conversation(SERVER, "server");
    this.resetLink();
  }

  resetLink() {
    this.out = [];
    this.caps = new Set();
    this.offered = new Map();
    this.registered = false;
    this.welcomedOnce = false;
    this.prefixes = { o: "@", v: "+" };
    this.nicklen = 30;
    if (this.multiline) this.multiline.clear();
    if (this.typingSent) this.typingSent.clear();
  }

  // -- what app.mjs calls ---------------------------------------------------

  /** The socket opened: register (capabilities first, IRCv3 CAP LS 302). */
  open() {
    this.resetLink();
    this.status = "registering";
    this.loginError = "";
    this.changed.add("status");
    this.send("CAP", "LS", "302");
    this.send("NICK", this.wantedNick);
    this.send("USER", usernameFor(this.wantedNick), "0", "*", this.wantedNick);
  }

  /** The socket closed: the channels are left until the link is back. */
  closed(reason) {
    const was = this.status;
    this.status = "offline";
    this.changed.add("status");
    for (const done of this.history.connectionLost()) this.historyDone(done);
    // A try that never got through says nothing: the banner counts down to the next.
    if (was === "offline" || was === "connecting") return;
    for (const conv of this.conversations.values()) {
      if (conv.kind === "channel" && conv.joined) {
        conv.joined = false;
        this.add(conv, { kind: "info", text: `Disconnected (${reason})` });
      }
    }
    this.add(this.conversation(SERVER), { kind: "error", text: `Disconnected: ${reason}` });
  }

  /** Lines to send, in order; the queue is empty afterwards. */
  take() {
    const out = this.out;
    this.out = [];
    return out;
  }

  select(key) {
    const conv = this.conversations.get(key);
    if (!conv) return;
    this.active = key;
    conv.unread = 0;
    conv.mention = false;
    this.changed.add("list");
    this.changed.add(key);
    if (this.replying && this.replying.key !== key) this.replying = null;
    this.markRead(conv);
  }

  /** The person has seen `conv` up to its newest message: tell the server, so
   * their other devices know (IRCv3 read-marker). */
  markRead(conv) {
    if (!conv.latest || !this.registered || !this.caps.has("draft/read-marker")) return;
    if (conv.read && conv.latest <= conv.read) return;
    conv.read = conv.latest;
    this.send("MARKREAD", conv.name, `timestamp=${conv.latest.toISOString()}`);
  }

  /** What the box says now, for typing notifications: active while text is
   * typed (at most every few seconds), done when it is cleared unsent. */
  typed(text) {
    const conv = this.conversations.get(this.active);
    if (!conv || conv.kind === "server" || !this.sendTyping) return;
    if (!this.registered || !this.caps.has("message-tags")) return;
    const last = this.typingSent.get(conv.key);
    const now = this.now().getTime();
    if (text && !text.startsWith("/")) {
      if (last !== undefined && now - last < TYPING_INTERVAL) return;
      this.typingSent.set(conv.key, now);
      this.out.push(formatTagged({ "+typing": "active" }, "TAGMSG", conv.name));
    } else if (!text && last !== undefined) {
      this.typingSent.delete(conv.key);
      this.out.push(formatTagged({ "+typing": "done" }, "TAGMSG", conv.name));
    }
  }

  /** Who is typing in `conv` now, by the names shown. */
  typists(conv) {
    const now = this.now().getTime();
    for (const [key, until] of conv.typing) if (until.at <= now) conv.typing.delete(key);
    return [...conv.typing.values()].map((t) => this.shownNick(t.nick)).sort();
  }

  /** The next message to `key` answers `line` (IRCv3 +reply). */
  startReply(key, line) {
    this.replying = { key, line };
    this.changed.add("reply");
  }

  cancelReply() {
    this.replying = null;
    this.changed.add("reply");
  }

  react(key, msgid, emoji) {
    const conv = this.conversations.get(key);
    if (!conv || !this.registered) return;
    this.out.push(formatTagged({ "+reply": msgid, "+draft/react": emoji }, "TAGMSG", conv.name));
  }

  /** Delete a message of ours (IRCv3 message-redaction). */
  redact(key, msgid) {
    const conv = this.conversations.get(key);
    if (conv && this.registered) this.send("REDACT", conv.name, msgid);
  }

  /** A nick with the display name its owner chose, when they chose one. */
  shownNick(nick) {
    const profile = this.profiles.get(casefold(nick));
    const name = profile ? profile.displayName : "";
    return name && casefold(name) !== casefold(nick) ? `${name} (${nick})` : nick;
  }

  colourOf(nick) {
    const profile = this.profiles.get(casefold(nick));
    return profile ? profile.colour : "";
  }

  lineById(conv, msgid) {
    for (let i = conv.lines.length - 1; i >= 0; i--) if (conv.lines[i].msgid === msgid) return conv.lines[i];
    return null;
  }

  /** Ask for older messages of a conversation (scrolled to the top). */
  older(key) {
    const conv = this.conversations.get(key);
    if (!conv || conv.kind === "server" || !this.registered) return;
    if (this.history.older(conv.name)) {
      conv.loadingOlder = true;
      this.changed.add(key);
      this.flushHistory();
    }
  }

  /** What the person typed in the box of the active conversation. */
  input(text) {
    const conv = this.conversations.get(this.active);
    if (!text.trim()) return;
    if (text.startsWith("/") && !text.startsWith("//") && !text.includes("\n")) {
      this.command(conv, text.slice(1));
      return;
    }
    const reply = this.replying && this.replying.key === conv.key ? this.replying.line.msgid : "";
    if (this.replying) this.cancelReply();
    this.say(conv, text.startsWith("//") ? text.slice(1) : text, false, reply);
  }

  /** Nicks and channels that complete `word` in the active conversation, best first. */
  completions(word) {
    const conv = this.conversations.get(this.active);
    const folded = casefold(word);
    if (word.startsWith("#")) {
      return this.order
        .map((k) => this.conversations.get(k).name)
        .filter((name) => isChannel(name) && casefold(name).startsWith(folded));
    }
    const names = conv.kind === "private" ? [conv.name] : [...conv.members.values()].map((m) => m.nick);
    return names
      .filter((nick) => casefold(nick).startsWith(folded) && casefold(nick) !== casefold(this.me))
      .sort((a, b) => this.lastSpoke(conv, b) - this.lastSpoke(conv, a) || a.localeCompare(b));
  }

  // -- the socket's lines ---------------------------------------------------

  receive(raw) {
    const msg = parse(raw);
    if (this.multiline.collect(msg) || this.history.collect(msg)) return;
    const handler = HANDLERS[msg.command];
    if (handler) handler.call(this, msg);
    else if (/^\d{3}$/.test(msg.command)) this.numeric(msg);
  }

  // -- conversations --------------------------------------------------------

  conversation(name, kind) {
    const key = name === SERVER ? SERVER : casefold(name);
    let conv = this.conversations.get(key);
    if (!conv && kind) {
      conv = {
        key,
        name: name === SERVER ? "Server" : name,
        kind,
        lines: [],
        unread: 0,
        mention: false,
        topic: "",
        members: new Map(),
        names: null,
        joined: false,
        loadingOlder: false,
        noOlder: false,
        typing: new Map(), // folded nick -> { nick, at }: typing until `at`
        latest: null, // the newest message's time
        read: null, // read up to, here or on another device (read-marker)
      };
      this.conversations.set(key, conv);
      this.order.push(key);
      this.changed.add("list");
    }
    return conv;
  }

  close(key) {
    const conv = this.conversations.get(key);
    if (!conv || key === SERVER) return;
    if (conv.kind === "channel" && conv.joined) this.send("PART", conv.name);
    this.conversations.delete(key);
    this.order = this.order.filter((k) => k !== key);
    this.history.forget(conv.name);
    this.forgetChannel(conv.name);
    if (this.active === key) this.active = this.order[Math.max(0, this.order.length - 1)];
    this.changed.add("list");
    this.changed.add(this.active);
  }

  /** A line in a conversation; counts as unread (and a mention) when not looked at. */
  add(conv, line) {
    const full = { id: this.nextId++, time: this.now(), nick: "", text: "", history: null, ...line };
    conv.lines.push(full);
    if (conv.lines.length > MAX_LINES + TRIM_LINES) conv.lines.splice(0, TRIM_LINES);
    this.changed.add(conv.key);
    if (!MESSAGE_KINDS.includes(full.kind)) return full;
    if (!conv.latest || full.time > conv.latest) conv.latest = full.time;
    if (full.nick && conv.typing.delete(casefold(full.nick))) this.changed.add("typing");
    if (full.history || full.self || (conv.read && full.time <= conv.read)) return full;
    if (conv.key !== this.active) {
      conv.unread += 1;
      if (full.mention || conv.kind === "private") conv.mention = true;
      this.changed.add("list");
    }
    if (full.mention || conv.kind === "private") this.alerts.push({ key: conv.key, line: full });
    return full;
  }

  lastSpoke(conv, nick) {
    const folded = casefold(nick);
    for (let i = conv.lines.length - 1; i >= Math.max(0, conv.lines.length - 200); i--) {
      if (casefold(conv.lines[i].nick || "") === folded) return conv.lines[i].id;
    }
    return 0;
  }

  rememberChannel(name) {
    if (!this.channels.some((c) => casefold(c) === casefold(name))) this.channels.push(name);
    this.changed.add("saved");
  }

  forgetChannel(name) {
    this.channels = this.channels.filter((c) => casefold(c) !== casefold(name));
    this.changed.add("saved");
  }

  // -- sending --------------------------------------------------------------

  send(command, ...params) {
    this.out.push(format(command, ...params));
  }

  say(conv, text, action = false, reply = "") {
    if (conv.kind === "server") {
      this.add(conv, {
        kind: "error",
        text: "This is the server's window: join a channel (/join #lobby) or /msg someone.",
      });
      return;
    }
    if (!this.registered) {
      this.add(conv, { kind: "error", text: "Not connected yet; your message was not sent." });
      return;
    }
    const head = `:${this.me}!~${usernameFor(this.me)}@${"x".repeat(63)} PRIVMSG ${conv.name} :`;
    const budget = 510 - byteLength(head) - (action ? 9 : 0);
    const tags = reply && this.caps.has("message-tags") ? { "+reply": reply } : {};
    this.typingSent.delete(conv.key); // a message ends typing
    let pieces;
    if (!action && text.replace(/\n+$/, "").includes("\n") && this.sendBatch(conv, text, budget, tags)) {
      pieces = [text.replace(/\n+$/, "")];
    } else {
      pieces = text.split("\n").flatMap((l) => splitText(l, budget)).filter(Boolean);
      for (const piece of pieces) {
        this.out.push(formatTagged(tags, "PRIVMSG", conv.name, action ? `\x01ACTION ${piece}\x01` : piece));
      }
    }
    if (!this.caps.has("echo-message")) {
      for (const piece of pieces) {
        this.add(conv, { kind: action ? "action" : "message", nick: this.me, text: piece, self: true, replyTo: reply });
      }
    }
    this.markRead(conv); // who speaks has read what came before
  }

  /** Send `text` as one message of several lines (IRCv3 multiline), if the
   * server takes them and it fits their limits. */
  sendBatch(conv, text, budget, tags) {
    if (!this.caps.has(MULTILINE) || !this.caps.has("batch")) return false;
    const limits = multilineLimits(this.offered.get(MULTILINE));
    const lines = limits && batchLines(text, budget, limits);
    if (!lines) return false;
    this.batches += 1;
    const ref = `ml${this.batches}`;
    this.out.push(formatTagged(tags, "BATCH", `+${ref}`, MULTILINE, conv.name));
    for (const [line, concat] of lines) {
      this.out.push(formatTagged(concat ? { batch: ref, [CONCAT]: "" } : { batch: ref }, "PRIVMSG", conv.name, line));
    }
    this.send("BATCH", `-${ref}`);
    return true;
  }

  command(conv, text) {
    const space = text.indexOf(" ");
    const name = (space === -1 ? text : text.slice(0, space)).toLowerCase();
    const rest = space === -1 ? "" : text.slice(space + 1).trim();
    const [first = "", ...others] = rest.split(/ +/);
    const after = others.join(" ");
    const need = (what) => this.add(conv, { kind: "error", text: `/${name} needs ${what}.` });
    const linked = () => {
      if (this.registered) return true;
      this.add(conv, { kind: "error", text: "Not connected yet; try again in a moment." });
      return false;
    };
    switch (name) {
      case "join":
      case "j":
        if (!first) return need("a channel, as in /join #lobby");
        if (linked()) {
          const names = first.split(",").map((c) => (isChannel(c) ? c : `#${c}`));
          this.pendingSelect = casefold(names[0]);
          this.send("JOIN", names.join(","), ...(after ? [after] : []));
        }
        return;
      case "part":
      case "leave": {
        const target = isChannel(first) ? first : conv.kind === "channel" ? conv.name : "";
        const reason = isChannel(first) ? after : rest;
        if (!target) return need("a channel when you are not in one");
        if (linked()) this.send("PART", target, ...(reason ? [reason] : []));
        return;
      }
      case "close":
        this.close(conv.key);
        return;
      case "msg":
      case "query":
      case "q": {
        if (!first) return need("a nick");
        if (name !== "msg" || !isChannel(first)) {
          const target = this.conversation(first, isChannel(first) ? "channel" : "private");
          if (target.kind === "private") this.history.opened(first, this.now());
          if (name !== "msg") this.select(target.key);
          if (after) this.say(target, after);
        } else if (after) {
          this.say(this.conversation(first, "channel"), after);
        }
        if (name === "msg" && !after) need("a message");
        return;
      }
      case "me":
        if (!rest) return need("something you do, as in /me waves");
        this.say(conv, rest, true);
        return;
      case "nick":
        if (!first) return need("a new nickname");
        if (!validNick(first, this.nicklen)) {
          this.add(conv, { kind: "error", text: `"${first}" cannot be a nickname: use letters, digits, - and _.` });
          return;
        }
        this.wantedNick = first;
        this.changed.add("saved");
        if (linked()) this.send("NICK", first);
        return;
      case "topic":
        if (conv.kind !== "channel") return need("a channel: use it in one");
        if (!linked()) return;
        if (rest) this.send("TOPIC", conv.name, rest);
        else this.add(conv, { kind: "info", text: conv.topic ? `Topic: ${conv.topic}` : "No topic is set." });
        return;
      case "away":
        if (linked()) this.send("AWAY", ...(rest ? [rest] : []));
        return;
      case "back":
        if (linked()) this.send("AWAY");
        return;
      case "whois":
        if (!first) return need("a nick");
        if (linked()) this.send("WHOIS", first);
        return;
      case "quote":
      case "raw":
        if (!rest) return need("a line to send");
        if (linked()) this.out.push(rest);
        return;
      case "help":
        for (const help of HELP) this.add(conv, { kind: "info", text: help });
        return;
      case "display":
      case "colour":
      case "color": {
        const key = name === "display" ? "display-name" : "color";
        if (key === "color" && rest && !/^#[0-9A-Fa-f]{6}$/.test(rest)) {
          this.add(conv, { kind: "error", text: "A colour is written #rrggbb, such as #2e7d32." });
          return;
        }
        if (!this.caps.has("draft/metadata-2")) {
          this.add(conv, { kind: "error", text: "This server does not keep display names or colours." });
          return;
        }
        if (linked()) this.send("METADATA", "*", "SET", key, ...(rest ? [rest] : []));
        return;
      }
      default:
        this.add(conv, { kind: "error", text: `Unknown command /${name}; /help lists them.` });
    }
  }

  // -- handlers -------------------------------------------------------------

  from(msg) {
    return nickOf(msg.source);
  }

  isMe(nick) {
    return casefold(nick) === casefold(this.me);
  }

  timeOf(msg) {
    const time = msg.tags.time ? new Date(msg.tags.time) : null;
    return time && !Number.isNaN(time.getTime()) ? time : this.now();
  }

  /** A PRIVMSG or NOTICE as a line of the conversation it belongs to. */
  messageLine(msg, history = null) {
    const nick = this.from(msg);
    const [target, raw = ""] = msg.params;
    const text = stripFormatting(raw);
    const action = msg.command === "PRIVMSG" ? actionText(text) : null;
    if (action === null && text.startsWith("\x01")) return null; // other CTCP
    const self = this.isMe(nick);
    const line = {
      kind: msg.command === "NOTICE" ? "notice" : action !== null ? "action" : "message",
      nick: nick || "server",
      text: action !== null ? action : text,
      self,
      time: this.timeOf(msg),
      msgid: msg.tags.msgid || "",
      mention: !self && isChannel(target) && mentions(text, this.me),
      history,
      replyTo: msg.tags["+reply"] || msg.tags["+draft/reply"] || "",
      bot: "bot" in msg.tags,
    };
    let name;
    if (isChannel(target)) name = target;
    else if (self) name = target;
    else name = nick;
    return { name, line };
  }

  onMessage(msg) {
    const made = this.messageLine(msg);
    if (!made) return;
    const { line } = made;
    let { name } = made;
    const serverNotice = msg.command === "NOTICE" && (!msg.source || !msg.source.includes("!"));
    let conv;
    if (serverNotice || (msg.command === "NOTICE" && !isChannel(name) && !this.conversation(name))) {
      conv = this.conversations.get(this.registered ? this.active : SERVER) || this.conversation(SERVER);
      name = conv.name;
    } else {
      conv = this.conversation(name, isChannel(name) ? "channel" : "private");
    }
    if (conv.kind === "server") {
      this.add(conv, line);
      return;
    }
    const verdict = this.history.live(conv.name, msg, line);
    if (verdict === "show") this.add(conv, line);
  }

  historyDone(done) {
    const conv = this.conversation(done.target, isChannel(done.target) ? "channel" : "private");
    conv.loadingOlder = false;
    conv.noOlder = conv.noOlder || done.complete;
    const lines = [];
    for (const msg of done.messages) {
      const made = this.messageLine(msg, done.kind);
      if (made) lines.push({ id: this.nextId++, ...made.line });
    }
    if (done.kind === OLDER) {
      conv.lines.unshift(...lines);
    } else {
      if (lines.length) {
        conv.lines.push({ id: this.nextId++, time: this.now(), kind: "heading", text: HEADINGS[done.kind], nick: "", history: done.kind });
        conv.lines.push(...lines);
        if (done.kind === MISSED && conv.key !== this.active) {
          conv.unread += lines.length;
          this.changed.add("list");
        }
      }
      for (const line of done.held) this.add(conv, line);
    }
    this.changed.add(conv.key);
  }

  flushHistory() {
    for (const request of this.history.takeRequests()) this.send(...request);
  }

  endRegistration() {
    this.send("CAP", "END");
  }

  /** The welcome burst is over (once per link): join, and catch up private chats. */
  welcomed() {
    if (this.welcomedOnce) return;
    this.welcomedOnce = true;
    this.history.welcomed();
    if (this.caps.has("draft/metadata-2") && this.caps.has("batch")) this.send("METADATA", "*", "SUB", ...PROFILE_KEYS);
    if (this.channels.length) {
      if (this.active === SERVER) this.pendingSelect = casefold(this.channels[0]);
      this.send("JOIN", this.channels.join(","));
    }
    this.flushHistory();
  }

  nickRefused(msg, why) {
    const nick = msg.params[1] || this.wantedNick;
    if (this.registered) {
      this.add(this.conversations.get(this.active), { kind: "error", text: `The nickname ${nick} ${why}.` });
      return;
    }
    const next = why === "is taken" && nick.length < this.nicklen ? `${nick}_` : suggestNick();
    this.add(this.conversation(SERVER), { kind: "info", text: `The nickname ${nick} ${why}; trying ${next}.` });
    this.send("NICK", next);
  }

  members(conv) {
    return [...conv.members.values()];
  }

  setMember(conv, nick, modes = "") {
    const key = casefold(nick);
    const known = conv.members.get(key);
    conv.members.set(key, { nick, modes: known && !modes ? known.modes : modes, away: known ? known.away : false });
    this.changed.add(conv.key);
  }

  forEachMembership(nick, fn) {
    const key = casefold(nick);
    for (const conv of this.conversations.values()) {
      if (conv.kind === "channel" && conv.members.has(key)) fn(conv, key);
    }
  }

  numeric(msg) {
    const code = Number(msg.command);
    const params = msg.params.slice(1);
    const text = params[params.length - 1] || "";
    const detail = params.slice(0, -1).join(" ");
    if (code >= 400 && code < 600) {
      const conv = this.registered ? this.conversations.get(this.active) : this.conversation(SERVER);
      this.add(conv, { kind: "error", text: detail ? `${detail}: ${text}` : text });
      return;
    }
    const whois = code === 311 || code === 312 || code === 313 || code === 317 || code === 319 || code === 330 || code === 671 || code === 301 || code === 318;
    if (whois && this.registered && code !== 318) {
      const conv = code === 301 ? this.conversation(params[0]) || this.conversations.get(this.active) : this.conversations.get(this.active);
      const words = code === 301 ? `${params[0]} is away: ${text}` : `${detail} ${text}`.trim();
      this.add(conv, { kind: "info", text: words });
      return;
    }
    if (code === 318) return;
    this.add(this.conversation(SERVER), { kind: "info", text: detail && code !== 372 ? `${detail} ${text}` : text });
  }
}

function usernameFor(nick) {
  return (nick.toLowerCase().replace(/[^a-z0-9]/g, "") || "web").slice(0, 10);
}

function parseCaps(text) {
  const caps = new Map();
  for (const item of text.split(" ")) {
    if (!item) continue;
    const eq = item.indexOf("=");
    caps.set(eq === -1 ? item : item.slice(0, eq), eq === -1 ? "" : item.slice(eq + 1));
  }
  return caps;
}

/** Handlers by command; each runs with `this` the Chat. */
const HANDLERS = {
  PING(msg) {
    this.send("PONG", ...msg.params);
  },

  CAP(msg) {
    const [, sub, a, b] = msg.params;
    const more = a === "*" && b !== undefined;
    const list = more ? b : a || "";
    if (sub === "LS") {
      for (const [k, v] of parseCaps(list)) this.offered.set(k, v);
      if (more) return;
      const wanted = WANTED_CAPS.filter((c) => this.offered.has(c));
      const sasl = this.offered.get("sasl");
      if (this.account && this.password && sasl !== undefined && (!sasl || sasl.split(",").includes("PLAIN"))) {
        wanted.push("sasl");
      } else if (this.account && this.password) {
        this.loginError = "This server does not offer password login (SASL PLAIN).";
        this.changed.add("status");
      }
      if (wanted.length) this.send("CAP", "REQ", wanted.join(" "));
      else this.endRegistration();
    } else if (sub === "ACK") {
      for (const cap of list.split(" ")) {
        if (cap.startsWith("-")) this.caps.delete(cap.slice(1));
        else if (cap) this.caps.add(cap);
      }
      this.history.enabled = this.caps.has("draft/chathistory") && this.caps.has("batch");
      if (this.registered) return;
      if (this.caps.has("sasl") && list.split(" ").includes("sasl")) this.send("AUTHENTICATE", "PLAIN");
      else this.endRegistration();
    } else if (sub === "NAK") {
      if (!this.registered) this.endRegistration();
    } else if (sub === "NEW") {
      const fresh = [...parseCaps(list).keys()].filter((c) => WANTED_CAPS.includes(c) && !this.caps.has(c));
      for (const [k, v] of parseCaps(list)) this.offered.set(k, v);
      if (fresh.length) this.send("CAP", "REQ", fresh.join(" "));
    } else if (sub === "DEL") {
      for (const cap of list.split(" ")) this.caps.delete(cap);
    }
  },

  AUTHENTICATE(msg) {
    if (msg.params[0] === "+") {
      for (const piece of saslPlain(this.account, this.password)) this.send("AUTHENTICATE", piece);
    }
  },

  "900"(msg) {
    this.loggedIn = msg.params[2] || this.account;
    this.add(this.conversation(SERVER), { kind: "info", text: `Logged in as ${this.loggedIn}.` });
    this.changed.add("status");
  },

  "903"() {
    this.endRegistration();
  },

  "904"(msg) {
    this.loginError = `Login failed: ${msg.params[msg.params.length - 1]}`;
    this.add(this.conversation(SERVER), { kind: "error", text: this.loginError });
    this.changed.add("status");
    this.endRegistration();
  },

  "001"(msg) {
    this.registered = true;
    this.me = msg.params[0];
    this.status = "online";
    this.changed.add("status");
    this.changed.add("list");
    this.add(this.conversation(SERVER), { kind: "info", text: msg.params[1] || "Welcome" });
  },

  "005"(msg) {
    for (const token of msg.params.slice(1, -1)) {
      const [key, value = ""] = token.split("=");
      if (key === "CHATHISTORY") this.history.serverLimit = Number(value) || 0;
      if (key === "NICKLEN") this.nicklen = Number(value) || 30;
      if (key === "PREFIX") {
        const match = /^\(([^)]*)\)(.*)$/.exec(value);
        if (match) {
          this.prefixes = {};
          [...match[1]].forEach((mode, i) => (this.prefixes[mode] = match[2][i]));
        }
      }
    }
  },

  "376"() {
    this.welcomed();
  },

  "422"() {
    this.welcomed();
  },

  "433"(msg) {
    this.nickRefused(msg, "is taken");
  },

  "432"(msg) {
    this.nickRefused(msg, "cannot be used");
  },

  "332"(msg) {
    const conv = this.conversation(msg.params[1], "channel");
    conv.topic = msg.params[2] || "";
    this.add(conv, { kind: "topic", text: `Topic: ${conv.topic}` });
  },

  "333"() {},

  "353"(msg) {
    const conv = this.conversation(msg.params[2], "channel");
    if (!conv.names) conv.names = new Map();
    const symbols = Object.values(this.prefixes).join("");
    for (const entry of (msg.params[3] || "").split(" ")) {
      if (!entry) continue;
      let at = 0;
      while (at < entry.length && symbols.includes(entry[at])) at++;
      const nick = nickOf(entry.slice(at));
      const modes = [...entry.slice(0, at)]
        .map((s) => Object.keys(this.prefixes).find((m) => this.prefixes[m] === s))
        .join("");
      conv.names.set(casefold(nick), { nick, modes, away: false });
    }
  },

  "366"(msg) {
    const conv = this.conversation(msg.params[1]);
    if (!conv) return;
    if (conv.names) conv.members = conv.names;
    conv.names = null;
    this.changed.add(conv.key);
  },

  "305"() {
    this.away = false;
    this.add(this.conversations.get(this.active), { kind: "info", text: "You are back." });
    this.changed.add("status");
  },

  "306"() {
    this.away = true;
    this.add(this.conversations.get(this.active), { kind: "info", text: "You are marked away." });
    this.changed.add("status");
  },

  PRIVMSG(msg) {
    this.onMessage(msg);
  },

  NOTICE(msg) {
    this.onMessage(msg);
  },

  JOIN(msg) {
    const nick = this.from(msg);
    const channel = msg.params[0];
    const conv = this.conversation(channel, "channel");
    if (this.isMe(nick)) {
      conv.joined = true;
      conv.members = new Map();
      this.rememberChannel(conv.name);
      this.add(conv, { kind: "join", text: `You joined ${conv.name}` });
      if (this.pendingSelect === conv.key) {
        this.pendingSelect = null;
        this.select(conv.key);
      }
      this.history.joined(conv.name, this.now());
      this.flushHistory();
    } else {
      this.setMember(conv, nick);
      this.add(conv, { kind: "join", nick, text: `${nick} joined` });
    }
  },

  PART(msg) {
    const nick = this.from(msg);
    const conv = this.conversation(msg.params[0]);
    if (!conv) return;
    const reason = msg.params[1] ? ` (${msg.params[1]})` : "";
    if (this.isMe(nick)) {
      conv.joined = false;
      conv.members = new Map();
      this.forgetChannel(conv.name);
      this.add(conv, { kind: "part", text: `You left ${conv.name}${reason}` });
    } else {
      conv.members.delete(casefold(nick));
      this.add(conv, { kind: "part", nick, text: `${nick} left${reason}` });
    }
  },

  KICK(msg) {
    const [channel, target, reason = ""] = msg.params;
    const conv = this.conversation(channel);
    if (!conv) return;
    const by = this.from(msg);
    if (this.isMe(target)) {
      conv.joined = false;
      conv.members = new Map();
      this.forgetChannel(conv.name);
      this.add(conv, { kind: "part", text: `${by} kicked you from ${conv.name} (${reason})` });
    } else {
      conv.members.delete(casefold(target));
      this.add(conv, { kind: "part", nick: target, text: `${by} kicked ${target} (${reason})` });
    }
  },

  QUIT(msg) {
    const nick = this.from(msg);
    const reason = msg.params[0] ? ` (${msg.params[0]})` : "";
    this.forEachMembership(nick, (conv, key) => {
      conv.members.delete(key);
      this.add(conv, { kind: "part", nick, text: `${nick} quit${reason}` });
    });
    const chat = this.conversation(nick);
    if (chat && chat.kind === "private") this.add(chat, { kind: "part", nick, text: `${nick} quit${reason}` });
  },

  NICK(msg) {
    const old = this.from(msg);
    const nick = msg.params[0];
    const profile = this.profiles.get(casefold(old));
    if (profile) {
      this.profiles.delete(casefold(old));
      this.profiles.set(casefold(nick), profile);
    }
    const text = this.isMe(old) ? `You are now known as ${nick}` : `${old} is now known as ${nick}`;
    if (this.isMe(old)) {
      this.me = nick;
      this.changed.add("status");
    }
    this.forEachMembership(old, (conv, key) => {
      const member = conv.members.get(key);
      conv.members.delete(key);
      conv.members.set(casefold(nick), { ...member, nick });
      this.add(conv, { kind: "nick", nick, text });
    });
    const chat = this.conversation(old);
    if (chat && chat.kind === "private" && !this.conversation(nick)) {
      this.conversations.delete(chat.key);
      this.history.rename(old, nick);
      chat.key = casefold(nick);
      chat.name = nick;
      this.conversations.set(chat.key, chat);
      this.order = this.order.map((k) => (k === casefold(old) ? chat.key : k));
      if (this.active === casefold(old)) this.active = chat.key;
      this.add(chat, { kind: "nick", nick, text });
      this.changed.add("list");
    }
  },

  MODE(msg) {
    const [target, modes = "", ...args] = msg.params;
    const conv = isChannel(target) ? this.conversation(target) : null;
    if (!conv) return;
    let adding = true;
    let arg = 0;
    for (const letter of modes) {
      if (letter === "+" || letter === "-") {
        adding = letter === "+";
        continue;
      }
      const takes = letter in this.prefixes || "bkl".includes(letter) && (adding || letter !== "l");
      const value = takes ? args[arg++] : undefined;
      if (letter in this.prefixes && value) {
        const member = conv.members.get(casefold(value));
        if (member) {
          const without = member.modes.replace(letter, "");
          member.modes = adding ? letter + without : without;
        }
      }
    }
    this.changed.add(conv.key);
    this.add(conv, { kind: "mode", nick: this.from(msg), text: `${this.from(msg) || "server"} sets mode ${[modes, ...args].join(" ")}` });
  },

  TOPIC(msg) {
    const conv = this.conversation(msg.params[0], "channel");
    conv.topic = msg.params[1] || "";
    const nick = this.from(msg);
    this.add(conv, { kind: "topic", nick, text: conv.topic ? `${nick} set the topic: ${conv.topic}` : `${nick} cleared the topic` });
  },

  AWAY(msg) {
    const nick = this.from(msg);
    this.forEachMembership(nick, (conv, key) => {
      conv.members.get(key).away = Boolean(msg.params[0]);
      this.changed.add(conv.key);
    });
  },

  INVITE(msg) {
    const conv = this.conversations.get(this.active);
    this.add(conv, { kind: "info", text: `${this.from(msg)} invites you to ${msg.params[1]}: type /join ${msg.params[1]}` });
  },

  BATCH(msg) {
    if (this.multiline.opened(msg)) return;
    const whole = this.multiline.closed(msg);
    if (whole) {
      this.onMessage(whole); // a message of several lines, as if it came in one piece
      return;
    }
    const done = this.history.batch(msg);
    if (done) {
      this.historyDone(done);
      this.flushHistory();
    } else {
      this.flushHistory(); // a full page asks for the next
    }
  },

  FAIL(msg) {
    const done = this.history.failed(msg);
    if (done) {
      this.historyDone(done);
      return;
    }
    // What failed, and the server's own words (IRCv3 standard replies).
    const conv = this.conversations.get(this.active);
    const text = msg.params[msg.params.length - 1] || "The server refused that.";
    const command = msg.params.length > 2 && msg.params[0] !== "*" ? `${msg.params[0]}: ` : "";
    this.add(conv, { kind: "error", text: command + text });
  },

  WARN(msg) {
    const text = msg.params[msg.params.length - 1] || "";
    const command = msg.params.length > 2 && msg.params[0] !== "*" ? `${msg.params[0]}: ` : "";
    this.add(this.conversations.get(this.active), { kind: "info", text: command + text });
  },

  NOTE(msg) {
    HANDLERS.WARN.call(this, msg);
  },

  TAGMSG(msg) {
    // Tags with no text: typing (IRCv3 +typing) and reactions (+draft/react).
    const nick = this.from(msg);
    const target = msg.params[0] || "";
    const conv = this.conversation(isChannel(target) || this.isMe(nick) ? target : nick);
    if (!conv) return;
    const typing = msg.tags["+typing"];
    if (typing && !this.isMe(nick)) {
      const shown = TYPING_SHOWN[typing];
      if (shown) conv.typing.set(casefold(nick), { nick, at: this.now().getTime() + shown });
      else conv.typing.delete(casefold(nick));
      this.changed.add("typing");
    }
    const reply = msg.tags["+reply"] || msg.tags["+draft/reply"];
    const emoji = msg.tags["+draft/react"] || msg.tags["+draft/unreact"];
    const line = reply && emoji ? this.lineById(conv, reply) : null;
    if (line) {
      line.reactions = line.reactions || new Map();
      const who = line.reactions.get(emoji) || new Set();
      if (msg.tags["+draft/react"]) who.add(casefold(nick));
      else who.delete(casefold(nick));
      if (who.size) line.reactions.set(emoji, who);
      else line.reactions.delete(emoji);
      this.changed.add(conv.key);
      this.redraw = true;
    }
  },

  REDACT(msg) {
    // REDACT <target> <msgid> [:<reason>] (IRCv3 draft/message-redaction)
    const nick = this.from(msg);
    const [target = "", msgid = "", reason = ""] = msg.params;
    const conv = this.conversation(isChannel(target) || this.isMe(nick) ? target : nick);
    const line = conv && this.lineById(conv, msgid);
    if (!line) return;
    line.redacted = { by: casefold(nick) === casefold(line.nick) ? "" : nick, reason };
    this.changed.add(conv.key);
    this.redraw = true;
  },

  MARKREAD(msg) {
    // MARKREAD <target> timestamp=<time> | *: read on another device of the account.
    const [target = "", stamp = ""] = msg.params;
    const conv = this.conversation(target);
    if (!conv || !stamp.startsWith("timestamp=")) return;
    const read = new Date(stamp.slice(10));
    if (Number.isNaN(read.getTime())) return;
    if (!conv.read || read > conv.read) conv.read = read;
    if (conv.unread && (!conv.latest || conv.latest <= read)) {
      conv.unread = 0;
      conv.mention = false;
      this.changed.add("list");
    }
  },

  METADATA(msg) {
    // METADATA <target> <key> <visibility> [:<value>] (IRCv3 draft/metadata-2)
    const [target = "", key = "", , value = ""] = msg.params;
    if (isChannel(target) || !PROFILE_KEYS.includes(key)) return;
    const folded = casefold(target);
    const profile = this.profiles.get(folded) || { displayName: "", colour: "" };
    if (key === "display-name") profile.displayName = value;
    else profile.colour = profileColour(value);
    this.profiles.set(folded, profile);
    for (const conv of this.conversations.values()) this.changed.add(conv.key);
    this.redraw = true;
  },

  ERROR(msg) {
    this.add(this.conversation(SERVER), { kind: "error", text: msg.params[0] || "The server closed the link." });
  },
};
