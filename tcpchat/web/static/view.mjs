// Drawing the chat into the page. Every piece of text goes in with
// textContent or as a text node, never as markup: nothing anyone sends can
// become HTML. Links are <a> elements made here, for http(s) addresses only.

import { linkify } from "./irc.mjs";
import { SERVER } from "./chat.mjs";
import { REACTIONS } from "./ircv3.mjs";

const NICK_COLOURS = 12;
const EMOJI = (
  "😀 😂 🙂 😉 😊 😍 🤔 😮 😢 😡 👍 👎 👏 🙌 🙏 💪 👋 🤝 🎉 🎂 ❤️ 🔥 ⭐ ✅ " +
  "❌ ❓ ❗ 💡 📌 📝 📚 💻 ☕ 🍕 🍎 ⚽ 🎵 🌞 🌈 🐱 🐶 🚀 ⏰ 👀"
).split(" ");
const GROUP_SIZE = 60; // lines drawn per step when a whole conversation is drawn

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** `text` into `node` as text, its web addresses as links that open apart. */
function withLinks(node, text) {
  for (const part of linkify(text)) {
    if (part.href) {
      const a = el("a", "", part.text);
      a.href = part.href;
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      node.append(a);
    } else {
      node.append(document.createTextNode(part.text));
    }
  }
  return node;
}

export function nickColour(nick) {
  let hash = 0;
  for (const ch of nick.toLowerCase()) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `nick-${hash % NICK_COLOURS}`;
}

function clock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

const RANK = { o: 0, v: 1 };

export class View {
  constructor(root, chat, actions) {
    this.root = root;
    this.chat = chat;
    this.actions = actions; // { select(key), older(key), close(key) }
    this.$ = (id) => root.getElementById(id);
    this.shownKey = null;
    this.shownFirst = null;
    this.shownCount = 0;
    this.buildEmoji();
    this.buildLineActions();
    this.$("messages").addEventListener("scroll", () => this.scrolled());
  }

  /** Redraw what the chat says has changed. */
  update(changed) {
    const active = this.chat.active;
    if (changed.has("list") || changed.has(active) || this.shownKey !== active) this.drawList();
    if (this.shownKey !== active || changed.has(active)) {
      this.drawConversation();
      this.drawMembers();
      this.drawTitle();
    }
    if (changed.has("status")) this.drawStatus();
    if (changed.has("typing") || changed.has(active) || this.typingKey !== active) this.drawTyping();
    if (changed.has("reply") || changed.has(active)) this.drawReply();
    this.drawUnreadTitle();
  }

  // -- the conversation list ----------------------------------------------

  drawList() {
    const list = this.$("conversations");
    const items = [];
    this.chat.order.forEach((key, index) => {
      const conv = this.chat.conversations.get(key);
      const item = el("li");
      const button = el("button", "conv");
      button.type = "button";
      button.dataset.key = key;
      if (conv.kind === "channel" && !conv.joined) button.classList.add("left");
      if (conv.mention) button.classList.add("mentioned");
      if (key === this.chat.active) button.setAttribute("aria-current", "page");
      const name = el("span", "conv-name", conv.name);
      button.append(name);
      if (conv.unread) {
        const badge = el("span", "badge", String(conv.unread));
        badge.setAttribute("aria-label", `${conv.unread} unread${conv.mention ? ", you were mentioned" : ""}`);
        button.append(badge);
      }
      if (index < 9) button.title = `Alt+${index + 1}`;
      button.addEventListener("click", () => this.actions.select(key));
      item.append(button);
      if (key !== SERVER) {
        const close = el("button", "conv-close", "×");
        close.type = "button";
        close.setAttribute("aria-label", `Close ${conv.name}`);
        close.addEventListener("click", () => this.actions.close(key));
        item.append(close);
      }
      items.push(item);
    });
    list.replaceChildren(...items);
  }

  drawUnreadTitle() {
    let unread = 0;
    let mention = false;
    for (const conv of this.chat.conversations.values()) {
      unread += conv.unread;
      mention = mention || conv.mention;
    }
    document.title = (unread ? `(${unread}${mention ? "!" : ""}) ` : "") + "tcpchat";
  }

  // -- the messages -------------------------------------------------------

  drawConversation() {
    const conv = this.chat.conversations.get(this.chat.active);
    const box = this.$("messages");
    const lines = conv.lines;
    const first = lines.length ? lines[0].id : null;
    // A line that changed (a reaction, a deletion, a display name) redraws all.
    const same =
      !this.chat.redraw && this.shownKey === conv.key && this.shownFirst === first && this.shownCount <= lines.length;
    this.chat.redraw = false;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    if (same) {
      const fragment = document.createDocumentFragment();
      for (const line of lines.slice(this.shownCount)) fragment.append(this.lineNode(line, conv));
      box.append(fragment);
      if (atBottom || lines.slice(this.shownCount).some((l) => l.self)) box.scrollTop = box.scrollHeight;
    } else {
      const fromBottom = box.scrollHeight - box.scrollTop;
      const keep = this.shownKey === conv.key && !atBottom;
      const nodes = [this.topNode(conv)];
      for (const line of lines) nodes.push(this.lineNode(line, conv));
      box.replaceChildren(...nodes);
      box.scrollTop = keep ? box.scrollHeight - fromBottom : box.scrollHeight;
    }
    box.firstElementChild.replaceWith(this.topNode(conv));
    this.shownKey = conv.key;
    this.shownFirst = first;
    this.shownCount = lines.length;
  }

  topNode(conv) {
    let text = "";
    if (conv.kind !== "server") {
      if (conv.loadingOlder) text = "Loading earlier messages…";
      else if (conv.noOlder) text = `This is the beginning of ${conv.name}.`;
      else text = "Scroll up for earlier messages.";
    }
    const node = el("li", "top", text);
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  lineNode(line, conv) {
    const node = el("li", `line ${line.kind}`);
    if (line.history) node.classList.add("past");
    if (line.mention) node.classList.add("mention");
    if (line.self) node.classList.add("self");
    if (line.kind === "heading") {
      node.textContent = line.text;
      return node;
    }
    if (line.replyTo) node.append(this.quoteNode(conv, line.replyTo));
    const time = el("time", "time", clock(line.time));
    time.dateTime = line.time.toISOString();
    time.title = line.time.toLocaleString();
    node.append(time);
    if (line.kind === "message" || line.kind === "notice" || line.kind === "action") {
      const shown = this.chat.shownNick(line.nick);
      const nick = el("span", `nick ${nickColour(line.nick)}`, line.kind === "action" ? `* ${shown}` : shown);
      const colour = this.chat.colourOf(line.nick);
      if (colour) nick.style.color = colour; // chosen by its owner (IRCv3 metadata)
      node.append(nick);
      if (line.bot) node.append(el("span", "bot", "bot"));
    }
    node.append(withLinks(el("span", "text"), line.text));
    if (line.msgid) {
      node.dataset.msgid = line.msgid;
      if (line.self) node.dataset.own = "1";
    }
    if (line.redacted) {
      node.classList.add("redacted");
      const by = line.redacted.by ? ` by ${line.redacted.by}` : "";
      node.append(el("span", "note", `deleted${by}${line.redacted.reason ? `: ${line.redacted.reason}` : ""}`));
    }
    if (line.reactions && line.reactions.size) {
      const row = el("span", "reactions");
      for (const [emoji, who] of line.reactions) {
        const button = el("button", "reaction", `${emoji} ${who.size}`);
        button.type = "button";
        button.title = [...who].join(", ");
        button.addEventListener("click", () => this.actions.react(conv.key, line.msgid, emoji));
        row.append(button);
      }
      node.append(row);
    }
    return node;
  }

  /** The line a reply answers, quoted above it (IRCv3 +reply). */
  quoteNode(conv, msgid) {
    const quoted = this.chat.lineById(conv, msgid);
    if (!quoted) return el("span", "quote", "↪ in reply to an earlier message");
    const text = quoted.text.replace(/\n/g, " ");
    const short = text.length > 80 ? `${text.slice(0, 79)}…` : text;
    return el("span", "quote", `↪ ${this.chat.shownNick(quoted.nick)}: ${short}`);
  }

  // -- what can be done with a message -----------------------------------

  /** One bar of buttons (reply, reactions, delete) that goes to the message clicked. */
  buildLineActions() {
    const bar = el("span", "line-actions");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", "Message actions");
    const button = (label, title, action) => {
      const b = el("button", "line-action", label);
      b.type = "button";
      b.title = title;
      b.addEventListener("click", (event) => {
        event.stopPropagation();
        const li = bar.closest("li.line");
        if (li) action(li.dataset.msgid);
        bar.remove();
      });
      bar.append(b);
      return b;
    };
    button("↩ Reply", "Reply to this message", (msgid) => this.actions.reply(this.chat.active, msgid));
    for (const emoji of REACTIONS) {
      button(emoji, `React with ${emoji}`, (msgid) => this.actions.react(this.chat.active, msgid, emoji));
    }
    this.deleteButton = button("Delete", "Delete this message for everyone", (msgid) =>
      this.actions.redact(this.chat.active, msgid),
    );
    this.lineActions = bar;
    this.$("messages").addEventListener("click", (event) => {
      if (event.target.closest("a, button")) return;
      const li = event.target.closest("li.line[data-msgid]");
      if (!li || li.classList.contains("redacted")) {
        bar.remove();
        return;
      }
      this.deleteButton.hidden = li.dataset.own !== "1";
      li.append(bar);
    });
  }

  drawTyping() {
    const conv = this.chat.conversations.get(this.chat.active);
    this.typingKey = this.chat.active;
    const names = conv ? this.chat.typists(conv) : [];
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length > 1 && names.length <= 3) text = `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
    else if (names.length > 3) text = "Several people are typing…";
    this.$("typing").textContent = text;
  }

  drawReply() {
    const replying = this.chat.replying;
    const bar = this.$("reply-bar");
    bar.hidden = !replying;
    if (replying) {
      const text = replying.line.text.replace(/\n/g, " ");
      this.$("reply-text").textContent = `Replying to ${this.chat.shownNick(replying.line.nick)}: ${text.length > 80 ? `${text.slice(0, 79)}…` : text}`;
    }
  }

  scrolled() {
    const box = this.$("messages");
    if (box.scrollTop < 60) this.actions.older(this.chat.active);
  }

  scrollBy(pages) {
    const box = this.$("messages");
    box.scrollTop += pages * box.clientHeight * 0.9;
  }

  // -- title, members, status ---------------------------------------------

  drawTitle() {
    const conv = this.chat.conversations.get(this.chat.active);
    this.$("title").textContent = conv.name;
    const topic = this.$("topic");
    topic.replaceChildren();
    const words = conv.kind === "channel" ? conv.topic : conv.kind === "private" ? "Private chat" : "Messages from the server";
    withLinks(topic, words || "");
    topic.title = words || "";
    this.$("message").placeholder = conv.kind === "server" ? "Type /join #channel or /help" : `Message ${conv.name}`;
  }

  drawMembers() {
    const conv = this.chat.conversations.get(this.chat.active);
    const members = [...conv.members.values()].sort(
      (a, b) => rank(a) - rank(b) || a.nick.localeCompare(b.nick, undefined, { sensitivity: "base" }),
    );
    const prefixes = this.chat.prefixes;
    this.$("members-title").textContent = conv.kind === "channel" ? `${members.length} here` : "";
    this.$("members").classList.toggle("empty", conv.kind !== "channel");
    const items = members.map((m) => {
      const item = el("li", m.away ? "member away" : "member");
      const button = el("button", `member-name ${nickColour(m.nick)}`, (m.modes ? prefixes[m.modes[0]] || "" : "") + m.nick);
      const colour = this.chat.colourOf(m.nick);
      if (colour) button.style.color = colour;
      button.type = "button";
      button.title = m.away ? `${m.nick} (away) — click for a private chat` : `${m.nick} — click for a private chat`;
      button.addEventListener("click", () => this.actions.query(m.nick));
      item.append(button);
      return item;
    });
    this.$("member-list").replaceChildren(...items);
  }

  drawStatus() {
    const chat = this.chat;
    const status = this.$("status");
    const words = { offline: "offline", connecting: "connecting…", registering: "connecting…", online: chat.away ? "away" : "online" };
    status.textContent = words[chat.status] || chat.status;
    status.dataset.state = chat.status;
    this.$("me").textContent = chat.me;
  }

  banner(text, showButton) {
    const banner = this.$("banner");
    banner.hidden = !text;
    this.$("banner-text").textContent = text || "";
    this.$("reconnect-now").hidden = !showButton;
  }

  // -- emoji --------------------------------------------------------------

  buildEmoji() {
    const panel = this.$("emoji-panel");
    for (const emoji of EMOJI) {
      const button = el("button", "emoji", emoji);
      button.type = "button";
      button.addEventListener("click", () => this.actions.insert(button.textContent));
      panel.append(button);
    }
  }
}

function rank(member) {
  return member.modes ? RANK[member.modes[0]] ?? 2 : 3;
}
