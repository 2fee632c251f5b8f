// History catch-up (IRCv3 draft/chathistory), with no I/O: which requests to
// make, and what their answers mean. The same rules as the desktop client's
// (tcpchat/client/history.py):
//
// - Joining a channel the first time asks for its last lines (LATEST * N);
//   joining it again after a reconnect asks for everything after the newest
//   message seen (AFTER), page after page while pages come back full.
//   Private chats are caught up the same way after the welcome.
// - While a catch-up is under way, live messages for that conversation are
//   held and shown after the history, so the conversation reads in order.
// - Scrolling to the top asks for what came before the oldest (BEFORE); a
//   page that is not full means there is nothing older.
// - Each conversation remembers the msgids it has shown, so nothing is shown
//   twice (echo-message, a message both live and in a batch).
//
// One request per conversation is outstanding at a time, so a batch always
// answers the request recorded for its target.

import { casefold, isChannel } from "./irc.mjs";

export const DEFAULT_LINES = 50;
const MAX_SEEN = 10000;
const MAX_CATCH_UP_PAGES = 50;

export const RECENT = "recent";
export const MISSED = "missed";
export const OLDER = "older";

/** How to point at a message in a request: its msgid, else its server time. */
export function reference(msg) {
  if (msg.tags.msgid) return `msgid=${msg.tags.msgid}`;
  return msg.tags.time ? `timestamp=${msg.tags.time}` : "";
}

export function timestamp(date) {
  return `timestamp=${date.toISOString()}`;
}

class Conversation {
  constructor(name) {
    this.name = name;
    this.newest = "";
    this.oldest = "";
    this.seen = new Set();
    this.pending = null;
    this.pages = 0;
    this.gathered = [];
    this.held = [];
    this.nothingOlder = false;
  }

  catchingUp() {
    return this.pending === RECENT || this.pending === MISSED;
  }

  /** Remember msgid; false if it was seen already. */
  note(msgid) {
    if (!msgid) return true;
    if (this.seen.has(msgid)) return false;
    this.seen.add(msgid);
    if (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.values().next().value);
    return true;
  }

  advance(msg) {
    const ref = reference(msg);
    if (ref) {
      this.newest = ref;
      this.oldest = this.oldest || ref;
    }
  }
}

export class HistoryTracker {
  constructor(lines = DEFAULT_LINES) {
    this.lines = lines;
    this.enabled = false; // the server offers draft/chathistory and batch
    this.serverLimit = 0; // CHATHISTORY=<n> from ISUPPORT
    this.conversations = new Map();
    this.batches = new Map();
    this.out = [];
  }

  // -- requests -------------------------------------------------------------

  joined(channel, now) {
    if (!this.enabled) return;
    const key = casefold(channel);
    const known = this.conversations.get(key);
    if (known && known.newest) {
      this.catchUp(known);
      return;
    }
    const conversation = new Conversation(channel);
    this.conversations.set(key, conversation);
    conversation.newest = timestamp(now);
    conversation.pending = RECENT;
    this.request("LATEST", channel, "*", this.page(this.lines));
  }

  welcomed() {
    if (!this.enabled) return;
    for (const conversation of this.conversations.values()) {
      if (!isChannel(conversation.name) && conversation.newest) this.catchUp(conversation);
    }
  }

  opened(nick, now) {
    if (this.enabled && !this.conversations.has(casefold(nick))) {
      const conversation = new Conversation(nick);
      conversation.newest = timestamp(now);
      this.conversations.set(casefold(nick), conversation);
    }
  }

  /** Ask for the page before the oldest message shown; false if there is none to ask for. */
  older(target) {
    const conversation = this.conversations.get(casefold(target));
    if (!this.enabled || !conversation || conversation.pending || conversation.nothingOlder) {
      return false;
    }
    conversation.pending = OLDER;
    const limit = this.page(this.lines);
    if (conversation.oldest) this.request("BEFORE", conversation.name, conversation.oldest, limit);
    else this.request("LATEST", conversation.name, "*", limit);
    return true;
  }

  catchUp(conversation) {
    conversation.pending = MISSED;
    conversation.pages = 1;
    this.request("AFTER", conversation.name, conversation.newest, this.page(0));
  }

  page(wanted) {
    const limit = this.serverLimit || this.lines;
    return wanted ? Math.min(wanted, limit) : limit;
  }

  request(sub, target, ref, limit) {
    this.out.push(["CHATHISTORY", sub, target, ref, String(limit)]);
  }

  takeRequests() {
    const out = this.out;
    this.out = [];
    return out;
  }

  // -- live lines -----------------------------------------------------------

  /** A live message in target's conversation: "show", "held" or "duplicate". */
  live(target, msg, line) {
    const conversation = this.conversations.get(casefold(target));
    if (!conversation) return "show";
    const msgid = msg.tags.msgid || "";
    if (msgid && conversation.seen.has(msgid)) return "duplicate";
    if (conversation.catchingUp()) {
      conversation.held.push([msgid, line]);
      return "held";
    }
    conversation.note(msgid);
    conversation.advance(msg);
    return "show";
  }

  // -- batches --------------------------------------------------------------

  /** BATCH +ref chathistory <target> opens a reply; BATCH -ref ends it. */
  batch(msg) {
    const [ref, type, target] = msg.params;
    if (!ref) return null;
    if (ref.startsWith("+") && type === "chathistory" && target) {
      this.batches.set(ref.slice(1), { target, messages: [] });
      return null;
    }
    if (ref.startsWith("-")) {
      const done = this.batches.get(ref.slice(1));
      if (done) {
        this.batches.delete(ref.slice(1));
        return this.answered(done);
      }
    }
    return null;
  }

  /** Keep msg if it belongs to a history batch; false for every other line. */
  collect(msg) {
    const batch = this.batches.get(msg.tags.batch || "");
    if (!batch) return false;
    if ((msg.command === "PRIVMSG" || msg.command === "NOTICE") && msg.params.length > 1) {
      batch.messages.push(msg);
    }
    return true;
  }

  /** FAIL CHATHISTORY <code> <subcommand> [<target>] :text: give up on that request. */
  failed(msg) {
    if (msg.params.length < 4 || msg.params[0] !== "CHATHISTORY") return null;
    const conversation = this.conversations.get(casefold(msg.params[3]));
    if (!conversation || !conversation.pending) return null;
    const kind = conversation.pending;
    conversation.nothingOlder = conversation.nothingOlder || kind === OLDER;
    return this.finish(conversation, kind, []);
  }

  answered(batch) {
    const conversation = this.conversations.get(casefold(batch.target));
    if (!conversation || !conversation.pending) return null;
    const kind = conversation.pending;
    const messages = batch.messages;
    if (kind === MISSED) {
      conversation.gathered.push(...messages);
      const full = messages.length >= this.page(0);
      const last = messages[messages.length - 1];
      if (full && conversation.pages < MAX_CATCH_UP_PAGES && last && reference(last)) {
        conversation.pages += 1;
        conversation.newest = reference(last);
        this.request("AFTER", conversation.name, conversation.newest, this.page(0));
        return null;
      }
      return this.finish(conversation, kind, []);
    }
    const complete = messages.length < this.page(this.lines);
    conversation.nothingOlder = complete;
    if (messages.length && reference(messages[0])) conversation.oldest = reference(messages[0]);
    if (kind === RECENT) return this.finish(conversation, kind, messages);
    conversation.pending = null;
    const fresh = messages.filter((m) => conversation.note(m.tags.msgid || ""));
    return { target: conversation.name, kind, messages: fresh, held: [], complete };
  }

  finish(conversation, kind, messages) {
    const gathered = [...conversation.gathered, ...messages];
    conversation.gathered = [];
    conversation.pending = null;
    conversation.pages = 0;
    const fresh = [];
    for (const msg of gathered) {
      if (conversation.note(msg.tags.msgid || "")) fresh.push(msg);
      conversation.advance(msg);
    }
    const held = [];
    for (const [msgid, line] of conversation.held) {
      if (conversation.note(msgid)) {
        held.push(line);
        if (msgid) conversation.newest = `msgid=${msgid}`;
      }
    }
    conversation.held = [];
    return {
      target: conversation.name,
      kind,
      messages: fresh,
      held,
      complete: conversation.nothingOlder,
    };
  }

  // -- bookkeeping ----------------------------------------------------------

  /** The link is gone: requests die with it; what was gathered or held is due now. */
  connectionLost() {
    this.batches.clear();
    const done = [];
    for (const conversation of this.conversations.values()) {
      if (conversation.pending) done.push(this.finish(conversation, conversation.pending, []));
    }
    return done.filter((d) => d.messages.length || d.held.length);
  }

  rename(oldName, newName) {
    const conversation = this.conversations.get(casefold(oldName));
    if (conversation) {
      this.conversations.delete(casefold(oldName));
      conversation.name = newName;
      this.conversations.set(casefold(newName), conversation);
    }
  }

  forget(target) {
    this.conversations.delete(casefold(target));
  }
}
