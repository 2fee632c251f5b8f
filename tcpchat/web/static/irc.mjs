// IRC lines in the browser, with no I/O: parse, format, names, text.
// Pure functions only; chat.mjs keeps the state, view.mjs draws it.

/** One IRC line as { tags, source, command, params } (Modern IRC, "Messages"). */
export function parse(line) {
  let rest = line.replace(/[\r\n]+$/, "");
  const tags = {};
  if (rest.startsWith("@")) {
    const space = rest.indexOf(" ");
    const raw = space === -1 ? rest.slice(1) : rest.slice(1, space);
    rest = space === -1 ? "" : rest.slice(space + 1);
    for (const item of raw.split(";")) {
      if (!item) continue;
      const eq = item.indexOf("=");
      const key = eq === -1 ? item : item.slice(0, eq);
      tags[key] = eq === -1 ? "" : unescapeTag(item.slice(eq + 1));
    }
  }
  rest = rest.replace(/^ +/, "");
  let source = null;
  if (rest.startsWith(":")) {
    const space = rest.indexOf(" ");
    source = space === -1 ? rest.slice(1) : rest.slice(1, space);
    rest = space === -1 ? "" : rest.slice(space + 1);
  }
  const params = [];
  let command = "";
  while (rest) {
    rest = rest.replace(/^ +/, "");
    if (!rest) break;
    if (command && rest.startsWith(":")) {
      params.push(rest.slice(1));
      break;
    }
    const space = rest.indexOf(" ");
    const word = space === -1 ? rest : rest.slice(0, space);
    rest = space === -1 ? "" : rest.slice(space + 1);
    if (!command) command = word.toUpperCase();
    else params.push(word);
  }
  return { tags, source, command, params };
}

const TAG_ESCAPES = { ":": ";", s: " ", "\\": "\\", r: "\r", n: "\n" };

/** A tag value as the IRCv3 message-tags escaping reads it. */
export function unescapeTag(value) {
  return value.replace(/\\(.?)/g, (_, c) => (c in TAG_ESCAPES ? TAG_ESCAPES[c] : c));
}

/**
 * A line from a command and its parameters; the last one goes after ":" when it
 * must (empty, a space, or a leading ":"). Throws on a parameter that would
 * break the line: a line break, or a space in a middle parameter.
 */
export function format(command, ...params) {
  const parts = [command];
  params.forEach((param, i) => {
    const text = String(param);
    if (/[\r\n\0]/.test(text)) throw new Error("a line break cannot be sent");
    const last = i === params.length - 1;
    if (last && (text === "" || text.includes(" ") || text.startsWith(":"))) {
      parts.push(":" + text);
    } else {
      if (text.includes(" ") || text.startsWith(":") || text === "") {
        throw new Error(`bad middle parameter ${JSON.stringify(text)}`);
      }
      parts.push(text);
    }
  });
  return parts.join(" ");
}

/** rfc1459 casemapping, as the server advertises (CASEMAPPING=rfc1459). */
export function casefold(name) {
  return name.replace(/[A-Z[\]\\~]/g, (c) => {
    const i = "[]\\~".indexOf(c);
    return i === -1 ? c.toLowerCase() : "{}|^"[i];
  });
}

export function nickOf(source) {
  if (!source) return "";
  const bang = source.indexOf("!");
  return bang === -1 ? source : source.slice(0, bang);
}

export function isChannel(name) {
  return typeof name === "string" && name.startsWith("#");
}

const NICK = /^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*$/;

export function validNick(nick, max = 30) {
  return nick.length > 0 && nick.length <= max && NICK.test(nick);
}

/** A nick for someone who has not chosen one: "guest" and a few digits. */
export function suggestNick(random = Math.random) {
  return "guest" + String(Math.floor(random() * 9000) + 1000);
}

const encoder = new TextEncoder();

export function byteLength(text) {
  return encoder.encode(text).length;
}

/**
 * Text cut into pieces of at most `budget` UTF-8 bytes, at spaces where it can,
 * never inside a character: IRC's lines are limited, long messages are split.
 */
export function splitText(text, budget) {
  const pieces = [];
  let rest = text;
  while (byteLength(rest) > budget) {
    let cut = 0;
    let bytes = 0;
    let lastSpace = -1;
    for (const ch of rest) {
      const size = byteLength(ch);
      if (bytes + size > budget) break;
      bytes += size;
      cut += ch.length;
      if (ch === " ") lastSpace = cut;
    }
    const at = lastSpace > cut / 2 ? lastSpace : cut;
    pieces.push(rest.slice(0, at).trimEnd());
    rest = rest.slice(at).trimStart();
  }
  if (rest || !pieces.length) pieces.push(rest);
  return pieces;
}

const LINK = /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi;

/**
 * Text as segments { text, href? }: web addresses become links (http and https
 * only), the rest stays text. The view puts each segment in as text, never as
 * markup, so nothing a message says can become HTML.
 */
export function linkify(text) {
  const segments = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let url = match[0].replace(/[.,;:!?)\]}]+$/, "");
    const start = match.index;
    if (start > last) segments.push({ text: text.slice(last, start) });
    const href = /^www\./i.test(url) ? "https://" + url : url;
    segments.push({ text: url, href });
    last = start + url.length;
  }
  if (last < text.length) segments.push({ text: text.slice(last) });
  return segments;
}

/** Whether `text` names `nick` as a word (a mention), ignoring case. */
export function mentions(text, nick) {
  if (!nick) return false;
  const folded = casefold(text);
  const target = casefold(nick);
  let at = folded.indexOf(target);
  while (at !== -1) {
    const before = at === 0 ? "" : folded[at - 1];
    const after = folded[at + target.length] || "";
    if (!/[a-z0-9_{}|^`\\[\]-]/.test(before) && !/[a-z0-9_{}|^`\\[\]-]/.test(after)) return true;
    at = folded.indexOf(target, at + 1);
  }
  return false;
}

/** CTCP ACTION (/me): the action's text, or null for any other message. */
export function actionText(text) {
  if (text.startsWith("\x01ACTION ") || text === "\x01ACTION\x01") {
    return text.slice(8).replace(/\x01$/, "");
  }
  return null;
}

/** mIRC formatting codes (colour, bold, ...) taken out of a message's text. */
export function stripFormatting(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x03(\d{1,2}(,\d{1,2})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g, "");
}

/** PLAIN SASL's message in base64, in the 400-byte pieces AUTHENTICATE takes. */
export function saslPlain(account, password) {
  const bytes = encoder.encode(`${account}\0${account}\0${password}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  const encoded = btoa(binary);
  const pieces = [];
  for (let i = 0; i < encoded.length; i += 400) pieces.push(encoded.slice(i, i + 400));
  if (encoded.length % 400 === 0) pieces.push("+");
  return pieces;
}
