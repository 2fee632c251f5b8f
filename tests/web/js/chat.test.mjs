// node --test: the page's chat state (tcpchat/web/static/chat.mjs), fed IRC lines.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Chat, SERVER } from "../../../tcpchat/web/static/chat.mjs";

const NOW = new Date("2024-05-01T12:00:00.000Z");

function registered(options = {}) {
  const chat = new Chat({ nick: "me", now: () => NOW, ...options });
  chat.open();
  chat.receive(":srv CAP * LS :message-tags server-time echo-message batch draft/chathistory sasl=PLAIN,EXTERNAL");
  chat.receive(":srv CAP me ACK :message-tags server-time echo-message batch draft/chathistory");
  chat.receive(":srv 001 me :Welcome");
  chat.receive(":srv 005 me CHATHISTORY=100 PREFIX=(ov)@+ :are supported");
  chat.receive(":srv 376 me :End");
  chat.take();
  return chat;
}

/** Joined, with the history the join asks for answered (empty). */
function joined(chat, channel = "#lobby") {
  chat.receive(`:me!u@h JOIN ${channel}`);
  chat.receive(`:srv 353 me = ${channel} :@me +bob carol`);
  chat.receive(`:srv 366 me ${channel} :End`);
  chat.receive(`:srv BATCH +j chathistory ${channel}`);
  chat.receive(":srv BATCH -j");
  chat.take();
  return chat.conversations.get(channel);
}

test("registration asks for capabilities, then joins the remembered channels", () => {
  const chat = new Chat({ nick: "me", channels: ["#a", "#b"], now: () => NOW });
  chat.open();
  assert.deepEqual(chat.take(), ["CAP LS 302", "NICK me", "USER me 0 * me"]);
  chat.receive(":srv CAP * LS * :message-tags server-time");
  assert.deepEqual(chat.take(), []); // more to come
  chat.receive(":srv CAP * LS :echo-message batch unknown-cap");
  assert.deepEqual(chat.take(), ["CAP REQ :message-tags server-time echo-message batch"]);
  chat.receive(":srv CAP me ACK :message-tags server-time echo-message batch");
  assert.deepEqual(chat.take(), ["CAP END"]);
  chat.receive(":srv 001 me :Welcome");
  chat.receive(":srv 422 me :No MOTD");
  assert.deepEqual(chat.take(), ["JOIN #a,#b"]);
  assert.equal(chat.status, "online");
});

test("logging in is SASL PLAIN; a refusal is said and the chat goes on", () => {
  const chat = new Chat({ nick: "me", account: "acct", password: "pw", now: () => NOW });
  chat.open();
  chat.take();
  chat.receive(":srv CAP * LS :sasl=PLAIN batch");
  assert.deepEqual(chat.take(), ["CAP REQ :batch sasl"]);
  chat.receive(":srv CAP me ACK :batch sasl");
  assert.deepEqual(chat.take(), ["AUTHENTICATE PLAIN"]);
  chat.receive("AUTHENTICATE +");
  assert.deepEqual(chat.take(), [`AUTHENTICATE ${btoa("acct\0acct\0pw")}`]);
  chat.receive(":srv 904 me :SASL authentication failed");
  assert.deepEqual(chat.take(), ["CAP END"]);
  assert.match(chat.loginError, /failed/);
});

test("a taken nick is retried with an underscore before registration", () => {
  const chat = new Chat({ nick: "me", now: () => NOW });
  chat.open();
  chat.take();
  chat.receive(":srv 433 * me :Nickname is already in use");
  assert.deepEqual(chat.take(), ["NICK me_"]);
});

test("messages, mentions, unread counts and members", () => {
  const chat = registered();
  const lobby = joined(chat);
  assert.deepEqual([...lobby.members.values()].map((m) => [m.nick, m.modes]), [
    ["me", "o"],
    ["bob", "v"],
    ["carol", ""],
  ]);
  chat.select(SERVER);
  chat.receive("@msgid=1 :bob!u@h PRIVMSG #lobby :hi me, look");
  chat.receive("@msgid=2 :carol!u@h PRIVMSG #lobby :\x01ACTION waves\x01");
  assert.equal(lobby.unread, 2);
  assert.equal(lobby.mention, true);
  const [first, second] = lobby.lines.filter((l) => l.kind === "message" || l.kind === "action");
  assert.equal(first.mention, true);
  assert.equal(second.kind, "action");
  assert.equal(second.text, "waves");
  assert.equal(chat.alerts.length, 1);
  chat.select("#lobby");
  assert.equal(lobby.unread, 0);
  chat.receive(":bob!u@h NICK bobby");
  chat.receive(":carol!u@h QUIT :gone");
  assert.deepEqual([...lobby.members.values()].map((m) => m.nick), ["me", "bobby"]);
});

test("typing: a message, a command, an unknown command", () => {
  const chat = registered();
  joined(chat);
  chat.select("#lobby");
  chat.input("hello all");
  chat.input("/me laughs");
  chat.input("/topic New topic");
  chat.input("/join news");
  chat.input("/msg bob psst");
  chat.input("/away lunch");
  chat.input("//not a command");
  assert.deepEqual(chat.take(), [
    "PRIVMSG #lobby :hello all",
    "PRIVMSG #lobby :\x01ACTION laughs\x01",
    "TOPIC #lobby :New topic",
    "JOIN #news",
    "PRIVMSG bob psst",
    "AWAY lunch",
    "PRIVMSG #lobby :/not a command",
  ]);
  chat.input("/frobnicate");
  const last = chat.conversations.get("#lobby").lines.at(-1);
  assert.equal(last.kind, "error");
  assert.match(last.text, /Unknown command/);
});

test("a long message is split to fit IRC's line limit", () => {
  const chat = registered();
  joined(chat);
  chat.select("#lobby");
  chat.input("word ".repeat(300));
  const lines = chat.take();
  assert.ok(lines.length > 1);
  // What the server relays has our full source in front: it must stay within 510 bytes.
  const source = ":me!me@" + "h".repeat(63) + " ";
  for (const line of lines) assert.ok(new TextEncoder().encode(source + line).length <= 510);
});

test("with echo-message, own messages are shown once, when the server echoes them", () => {
  const chat = registered();
  const lobby = joined(chat);
  chat.select("#lobby");
  chat.input("hello");
  assert.equal(lobby.lines.filter((l) => l.kind === "message").length, 0);
  chat.receive("@msgid=9 :me!u@h PRIVMSG #lobby :hello");
  const mine = lobby.lines.filter((l) => l.kind === "message");
  assert.equal(mine.length, 1);
  assert.equal(mine[0].self, true);
  assert.equal(lobby.unread, 0);
});

test("history on join comes first, under its heading, and live lines after it", () => {
  const chat = registered();
  chat.receive(":me!u@h JOIN #lobby");
  assert.deepEqual(chat.take(), ["CHATHISTORY LATEST #lobby * 50"]);
  chat.receive("@msgid=live :bob!u@h PRIVMSG #lobby :live one");
  chat.receive(":srv BATCH +h chathistory #lobby");
  chat.receive("@batch=h;msgid=o1;time=2024-05-01T10:00:00.000Z :bob!u@h PRIVMSG #lobby :old one");
  chat.receive(":srv BATCH -h");
  const texts = chat.conversations.get("#lobby").lines.map((l) => l.text);
  assert.deepEqual(texts, ["You joined #lobby", "Earlier in this channel", "old one", "live one"]);
  const old = chat.conversations.get("#lobby").lines[2];
  assert.equal(old.history, "recent");
  assert.equal(old.time.toISOString(), "2024-05-01T10:00:00.000Z");
});

test("a reconnect rejoins, and catches up after the newest message", () => {
  const chat = registered();
  joined(chat);
  chat.receive("@msgid=m5 :bob!u@h PRIVMSG #lobby :last seen");
  chat.closed("gone");
  assert.equal(chat.conversations.get("#lobby").joined, false);
  chat.open();
  chat.take();
  chat.receive(":srv CAP * LS :batch draft/chathistory");
  chat.receive(":srv CAP me ACK :batch draft/chathistory");
  chat.receive(":srv 001 me :Welcome");
  chat.receive(":srv 376 me :End");
  assert.deepEqual(chat.take().slice(-1), ["JOIN #lobby"]);
  chat.receive(":me!u@h JOIN #lobby");
  assert.deepEqual(chat.take(), ["CHATHISTORY AFTER #lobby msgid=m5 100"]);
});

test("completion: members who spoke last come first", () => {
  const chat = registered();
  joined(chat);
  chat.receive(":bobby!u@h JOIN #lobby");
  chat.select("#lobby");
  chat.receive("@msgid=1 :bobby!u@h PRIVMSG #lobby :hi");
  assert.deepEqual(chat.completions("bo"), ["bobby", "bob"]);
  assert.deepEqual(chat.completions("#l"), ["#lobby"]);
  assert.deepEqual(chat.completions("me"), []);
});

test("kicked, parted, topic, mode", () => {
  const chat = registered();
  const lobby = joined(chat);
  chat.receive(":bob!u@h TOPIC #lobby :fresh");
  assert.equal(lobby.topic, "fresh");
  chat.receive(":me!u@h MODE #lobby +o carol");
  assert.equal(lobby.members.get("carol").modes, "o");
  chat.receive(":bob!u@h KICK #lobby me :out");
  assert.equal(lobby.joined, false);
  assert.deepEqual(chat.channels, []);
});

test("a try that never connected leaves no line; a lost link says so once", () => {
  const chat = registered();
  joined(chat);
  chat.closed("the server cannot be reached");
  const server = chat.conversations.get(SERVER);
  const lines = server.lines.length;
  chat.status = "connecting"; // the page tries again, and fails
  chat.closed("the server cannot be reached");
  assert.equal(server.lines.length, lines);
  assert.equal(chat.conversations.get("#lobby").lines.at(-1).text, "Disconnected (the server cannot be reached)");
});
