// Today's IRCv3 in the page, with no I/O: lines with client tags, messages
// of several lines (draft/multiline) both ways, and what a typing, reaction
// or profile line means. chat.mjs keeps the state these change.

import { byteLength, format } from "./irc.mjs";

export const MULTILINE = "draft/multiline";
export const CONCAT = "draft/multiline-concat";
/** The reactions the page offers under a message (IRCv3 +draft/react). */
export const REACTIONS = ["👍", "❤", "😂", "😮", "😢", "🎉"];
/** How long someone shows as typing after a notification (IRCv3 typing). */
export const TYPING_SHOWN = { active: 6000, paused: 30000 };
/** The least time between two typing notifications to one conversation. */
export const TYPING_INTERVAL = 3000;
/** Metadata keys the page subscribes to and shows (IRCv3 metadata registry). */
export const PROFILE_KEYS = ["display-name", "color"];
const COLOUR = /^#[0-9A-Fa-f]{6}$/;
const MAX_OPEN = 10; // multiline batches a server may have open at once
const MAX_GATHERED = 1000; // lines gathered for one of them

const ESCAPES = { "\\": "\\\\", ";": "\\:", " ": "\\s", "\r": "\\r", "\n": "\\n" };

/** A line with tags in front (IRCv3 message-tags), their values escaped. */
export function formatTagged(tags, command, ...params) {
  const items = Object.entries(tags).map(([k, v]) =>
    v ? `${k}=${v.replace(/[\\; \r\n]/g, (c) => ESCAPES[c])}` : k,
  );
  const line = format(command, ...params);
  return items.length ? `@${items.join(";")} ${line}` : line;
}

/** The server's multiline limits, from the capability's value; null without max-bytes. */
export function multilineLimits(value) {
  const tokens = new Map((value || "").split(",").map((t) => [t.split("=")[0], t.split("=")[1] || ""]));
  const bytes = Number(tokens.get("max-bytes"));
  if (!Number.isInteger(bytes) || bytes <= 0) return null;
  const lines = Number(tokens.get("max-lines"));
  return { maxBytes: bytes, maxLines: Number.isInteger(lines) && lines > 0 ? lines : Infinity };
}

/** A line in pieces of at most `budget` bytes, cut after a space where one is near
 * (the space stays, so the pieces join up again), never inside a character. */
function pieces(line, budget) {
  const out = [];
  let rest = line;
  while (byteLength(rest) > budget) {
    let cut = 0;
    let bytes = 0;
    let afterSpace = -1;
    for (const ch of rest) {
      const size = byteLength(ch);
      if (bytes + size > budget) break;
      bytes += size;
      cut += ch.length;
      if (ch === " ") afterSpace = cut;
    }
    const at = afterSpace > (cut * 3) / 4 ? afterSpace : Math.max(cut, 1);
    out.push(rest.slice(0, at));
    rest = rest.slice(at);
  }
  out.push(rest);
  return out;
}

/** The [text, continues-the-line-before] pairs of a multiline batch for `text`,
 * or null when it would break the server's limits (then it goes line by line). */
export function batchLines(text, budget, limits) {
  const trimmed = text.replace(/\n+$/, "");
  const out = [];
  for (const line of trimmed.split("\n")) {
    pieces(line, budget).forEach((piece, i) => out.push([piece, i > 0]));
  }
  if (!out.some(([t]) => t) || out.length > limits.maxLines || byteLength(trimmed) > limits.maxBytes) {
    return null;
  }
  return out;
}

/** Batches of several lines being received, each given back as one message. */
export class MultilineCollector {
  constructor() {
    this.open = new Map();
  }

  /** `BATCH +ref draft/multiline <target>`: gather it (false for other batches). */
  opened(msg) {
    const [ref = "", type, target] = msg.params;
    if (!ref.startsWith("+") || type !== MULTILINE || !target) return false;
    if (this.open.size < MAX_OPEN) this.open.set(ref.slice(1), { opening: msg, target, lines: [], command: "PRIVMSG" });
    return true;
  }

  /** Keep a line of an open batch; false for every other line. */
  collect(msg) {
    const gathering = msg.tags.batch && this.open.get(msg.tags.batch);
    if (!gathering) return false;
    if ((msg.command === "PRIVMSG" || msg.command === "NOTICE") && msg.params.length > 1) {
      gathering.command = msg.command;
      if (gathering.lines.length < MAX_GATHERED) gathering.lines.push([msg.params[1], CONCAT in msg.tags]);
    }
    return true;
  }

  /** `BATCH -ref`: the whole message of a batch gathered here, or null. */
  closed(msg) {
    const ref = msg.params[0] || "";
    if (!ref.startsWith("-")) return null;
    const gathering = this.open.get(ref.slice(1));
    this.open.delete(ref.slice(1));
    if (!gathering || !gathering.lines.length) return null;
    let text = "";
    gathering.lines.forEach(([line, concat], i) => {
      text += concat || i === 0 ? line : `\n${line}`;
    });
    const { opening } = gathering;
    return { tags: opening.tags, source: opening.source, command: gathering.command, params: [gathering.target, text] };
  }

  clear() {
    this.open.clear();
  }
}

/** A colour a person chose, if it is one (#rrggbb); anything else is no colour. */
export function profileColour(value) {
  return COLOUR.test(value || "") ? value : "";
}
