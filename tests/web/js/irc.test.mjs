// node --test: IRC lines in the page's own parser (tcpchat/web/static/irc.mjs).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  actionText,
  casefold,
  format,
  linkify,
  mentions,
  parse,
  saslPlain,
  splitText,
  stripFormatting,
  validNick,
} from "../../../tcpchat/web/static/irc.mjs";

test("parse: tags, source, command, params, trailing", () => {
  const msg = parse("@time=2024-01-01T00:00:00.000Z;msgid=a\\sb :nick!u@h PRIVMSG #chan :hello :there");
  assert.deepEqual(msg.tags, { time: "2024-01-01T00:00:00.000Z", msgid: "a b" });
  assert.equal(msg.source, "nick!u@h");
  assert.equal(msg.command, "PRIVMSG");
  assert.deepEqual(msg.params, ["#chan", "hello :there"]);
});

test("parse: no source, numeric, extra spaces, empty trailing", () => {
  assert.deepEqual(parse("PING  :x\r\n").params, ["x"]);
  const msg = parse(":srv 001  me :");
  assert.equal(msg.command, "001");
  assert.deepEqual(msg.params, ["me", ""]);
  assert.equal(parse("privmsg a b").command, "PRIVMSG");
});

test("format: the last parameter gets its colon only when it needs one", () => {
  assert.equal(format("PRIVMSG", "#a", "hi there"), "PRIVMSG #a :hi there");
  assert.equal(format("NICK", "bob"), "NICK bob");
  assert.equal(format("AWAY", ""), "AWAY :");
  assert.equal(format("PRIVMSG", "x", ":)"), "PRIVMSG x ::)");
  assert.throws(() => format("PRIVMSG", "#a", "two\r\nlines"));
  assert.throws(() => format("PRIVMSG", "a b", "x"));
});

test("casefold is rfc1459", () => {
  assert.equal(casefold("Nick[Away]\\~"), "nick{away}|^");
});

test("validNick", () => {
  assert.ok(validNick("alice_"));
  assert.ok(validNick("[x]"));
  assert.ok(!validNick("9lives"));
  assert.ok(!validNick("has space"));
  assert.ok(!validNick(""));
  assert.ok(!validNick("x".repeat(31)));
});

test("splitText keeps to the byte budget, at spaces, never inside a character", () => {
  const text = "word ".repeat(50) + "ü".repeat(30);
  const pieces = splitText(text, 40);
  for (const piece of pieces) assert.ok(new TextEncoder().encode(piece).length <= 40, piece);
  assert.equal(pieces.join(" ").replace(/\s+/g, ""), text.replace(/\s+/g, ""));
  assert.deepEqual(splitText("short", 40), ["short"]);
  assert.deepEqual(splitText("😀😀😀", 8), ["😀😀", "😀"]);
});

test("linkify: http and https only, trailing punctuation left out", () => {
  assert.deepEqual(linkify("see https://example.org/a?b=1, then"), [
    { text: "see " },
    { text: "https://example.org/a?b=1", href: "https://example.org/a?b=1" },
    { text: ", then" },
  ]);
  assert.deepEqual(linkify("www.example.org."), [
    { text: "www.example.org", href: "https://www.example.org" },
    { text: "." },
  ]);
  assert.deepEqual(linkify("javascript:alert(1) data:text/html,<b>"), [
    { text: "javascript:alert(1) data:text/html,<b>" },
  ]);
});

test("mentions: the nick as a word, any case", () => {
  assert.ok(mentions("hey Alice, look", "alice"));
  assert.ok(mentions("alice: hi", "Alice"));
  assert.ok(!mentions("malice aforethought", "alice"));
  assert.ok(!mentions("alice_", "alice"));
});

test("actions, formatting, SASL", () => {
  assert.equal(actionText("\x01ACTION waves\x01"), "waves");
  assert.equal(actionText("plain"), null);
  assert.equal(stripFormatting("\x02bold\x02 \x0304,01red\x03 x"), "bold red x");
  assert.deepEqual(saslPlain("acct", "pw"), [btoa("acct\0acct\0pw")]);
  const long = saslPlain("a", "p".repeat(600));
  assert.ok(long.length > 1 && long.slice(0, -1).every((p) => p.length === 400));
});
