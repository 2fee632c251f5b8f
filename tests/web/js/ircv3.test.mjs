// node --test: today's IRCv3 in the page's chat state (chat.mjs, ircv3.mjs).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Chat } from "../../../tcpchat/web/static/chat.mjs";
import { MultilineCollector, batchLines, formatTagged, multilineLimits } from "../../../tcpchat/web/static/ircv3.mjs";
import { parse } from "../../../tcpchat/web/static/irc.mjs";

const CAPS =
  "message-tags server-time echo-message batch draft/read-marker draft/message-redaction " +
  "draft/metadata-2=before-connect draft/multiline=max-bytes=4096,max-lines=32";

function modern(caps = CAPS, clock = { now: new Date("2024-05-01T12:00:00.000Z") }) {
  const chat = new Chat({ nick: "me", channels: ["#c"], now: () => clock.now });
  chat.open();
  chat.receive(`:srv CAP * LS :${caps}`);
  chat.receive(`:srv CAP me ACK :${caps.split(" ").map((c) => c.split("=")[0]).join(" ")}`);
  chat.receive(":srv 001 me :Welcome");
  chat.receive(":srv 376 me :End");
  chat.receive(":me!u@h JOIN #c");
  chat.receive(":srv 366 me #c :End");
  chat.take();
  return chat;
}

test("the new capabilities are asked for, and profiles subscribed to", () => {
  const chat = new Chat({ nick: "me", now: () => new Date() });
  chat.open();
  chat.take();
  chat.receive(`:srv CAP * LS :${CAPS}`);
  const [request] = chat.take();
  for (const cap of ["draft/multiline", "draft/read-marker", "draft/message-redaction", "draft/metadata-2"]) {
    assert.ok(request.split(" ").includes(cap), cap);
  }
  chat.receive(`:srv CAP me ACK :${request.split(":")[1]}`);
  chat.receive(":srv 001 me :Hi");
  chat.receive(":srv 422 me :No MOTD");
  assert.ok(chat.take().includes("METADATA * SUB display-name color"));
});

test("a pasted block goes as one batch; past the limits, line by line", () => {
  const chat = modern();
  chat.input("first\n\nthird");
  assert.deepEqual(chat.take(), [
    "BATCH +ml1 draft/multiline #c",
    "@batch=ml1 PRIVMSG #c first",
    "@batch=ml1 PRIVMSG #c :",
    "@batch=ml1 PRIVMSG #c third",
    "BATCH -ml1",
  ]);
  const small = modern(CAPS.replace("max-lines=32", "max-lines=2"));
  small.input("a\nb\nc");
  assert.deepEqual(small.take(), ["PRIVMSG #c a", "PRIVMSG #c b", "PRIVMSG #c c"]);
  const limits = multilineLimits("max-bytes=4096,max-lines=32");
  const parts = batchLines("word ".repeat(60), 100, limits);
  assert.ok(parts.every(([t]) => new TextEncoder().encode(t).length <= 100));
  assert.equal(parts.map(([t]) => t).join(""), "word ".repeat(60));
  assert.deepEqual(parts.slice(0, 2).map(([, c]) => c), [false, true]);
  assert.equal(multilineLimits("max-lines=3"), null);
});

test("a received batch is one line with the batch's tags", () => {
  const chat = modern();
  chat.receive("@msgid=b1;+reply=m0;bot :bob!b@h BATCH +x draft/multiline #c");
  chat.receive("@batch=x :bob!b@h PRIVMSG #c :hello");
  chat.receive("@batch=x :bob!b@h PRIVMSG #c :how is ");
  chat.receive("@batch=x;draft/multiline-concat :bob!b@h PRIVMSG #c :everyone?");
  chat.receive(":bob!b@h BATCH -x");
  const line = chat.conversations.get("#c").lines.at(-1);
  assert.equal(line.text, "hello\nhow is everyone?");
  assert.deepEqual([line.msgid, line.replyTo, line.bot], ["b1", "m0", true]);
  assert.equal(new MultilineCollector().collect(parse("@batch=nope PRIVMSG #c :x")), false);
});

test("replies carry +reply; reactions and deletions change the line", () => {
  const chat = modern();
  chat.receive("@msgid=m7 :bob!b@h PRIVMSG #c :lunch?");
  const conv = chat.conversations.get("#c");
  const line = chat.lineById(conv, "m7");
  chat.startReply("#c", line);
  chat.input("yes");
  // Who speaks has read what came before: the marker moves too.
  assert.deepEqual(chat.take(), ["@+reply=m7 PRIVMSG #c yes", "MARKREAD #c timestamp=2024-05-01T12:00:00.000Z"]);
  assert.equal(chat.replying, null);
  chat.receive("@+reply=m7;+draft/react=👍 :carol!c@h TAGMSG #c");
  chat.receive("@+reply=m7;+draft/react=👍 :dave!d@h TAGMSG #c");
  assert.equal(line.reactions.get("👍").size, 2);
  chat.receive("@+reply=m7;+draft/unreact=👍 :dave!d@h TAGMSG #c");
  assert.equal(line.reactions.get("👍").size, 1);
  chat.receive(":op!o@h REDACT #c m7 :spam");
  assert.deepEqual(line.redacted, { by: "op", reason: "spam" });
  chat.react("#c", "m7", "🎉");
  chat.redact("#c", "m8");
  assert.deepEqual(chat.take(), ["@+reply=m7;+draft/react=🎉 TAGMSG #c", "REDACT #c m8"]);
});

test("typing: shown for a while, sent at most every 3 s, done only after active", () => {
  const clock = { now: new Date("2024-05-01T12:00:00.000Z") };
  const chat = modern(CAPS, clock);
  const conv = chat.conversations.get("#c");
  chat.receive("@+typing=active :bob!b@h TAGMSG #c");
  assert.deepEqual(chat.typists(conv), ["bob"]);
  clock.now = new Date("2024-05-01T12:00:07.000Z");
  assert.deepEqual(chat.typists(conv), []); // six seconds without another
  chat.receive("@+typing=active :bob!b@h TAGMSG #c");
  chat.receive(":bob!b@h PRIVMSG #c :here");
  assert.deepEqual(chat.typists(conv), []); // a message ends it
  chat.typed("");
  chat.typed("h");
  chat.typed("he");
  clock.now = new Date("2024-05-01T12:00:10.000Z");
  chat.typed("hel");
  chat.typed("");
  assert.deepEqual(chat.take(), ["@+typing=active TAGMSG #c", "@+typing=active TAGMSG #c", "@+typing=done TAGMSG #c"]);
  chat.sendTyping = false;
  chat.typed("x");
  assert.deepEqual(chat.take(), []);
});

test("read markers: read elsewhere is not unread here, and looking marks it", () => {
  const chat = modern();
  chat.conversation("#d", "channel");
  chat.select("#c");
  chat.take();
  chat.receive("@time=2024-05-01T11:00:00.000Z :bob!b@h PRIVMSG #d :news");
  const d = chat.conversations.get("#d");
  assert.equal(d.unread, 1);
  chat.receive(":srv MARKREAD #d timestamp=2024-05-01T11:00:00.000Z");
  assert.equal(d.unread, 0);
  chat.receive("@time=2024-05-01T11:00:00.000Z :bob!b@h PRIVMSG #d :same moment, read");
  assert.equal(d.unread, 0);
  chat.receive("@time=2024-05-01T11:05:00.000Z :bob!b@h PRIVMSG #d :more");
  chat.select("#d");
  assert.deepEqual(chat.take(), ["MARKREAD #d timestamp=2024-05-01T11:05:00.000Z"]);
});

test("display names and colours from metadata; bots; clear standard replies", () => {
  const chat = modern();
  chat.receive(":srv METADATA bob display-name * :Bob B.");
  chat.receive(":srv METADATA bob color * :#00aa00");
  assert.equal(chat.shownNick("bob"), "Bob B. (bob)");
  assert.equal(chat.colourOf("BOB"), "#00aa00");
  chat.receive(":srv METADATA bob color * :red;} body{");
  assert.equal(chat.colourOf("bob"), "");
  chat.receive(":bob!b@h NICK robert");
  assert.equal(chat.shownNick("robert"), "Bob B. (robert)");
  chat.receive(":srv FAIL REDACT REDACT_FORBIDDEN #c m1 :Not yours");
  assert.equal(chat.conversations.get("#c").lines.at(-1).text, "REDACT: Not yours");
  chat.input("/display Me M.");
  chat.input("/colour blue");
  assert.deepEqual(chat.take(), ["METADATA * SET display-name :Me M."]);
  assert.match(chat.conversations.get("#c").lines.at(-1).text, /#rrggbb/);
  assert.equal(formatTagged({ "+x": "a b;c" }, "TAGMSG", "#c"), "@+x=a\\sb\\:c TAGMSG #c");
});
