// node --test: the history catch-up rules (tcpchat/web/static/history.mjs).
import assert from "node:assert/strict";
import { test } from "node:test";
import { HistoryTracker, MISSED, OLDER, RECENT } from "../../../tcpchat/web/static/history.mjs";
import { parse } from "../../../tcpchat/web/static/irc.mjs";

const NOW = new Date("2024-05-01T12:00:00.000Z");

function msg(id, text, batch = "") {
  const tags = `@msgid=${id};time=2024-05-01T11:00:00.000Z${batch ? `;batch=${batch}` : ""}`;
  return parse(`${tags} :bob!u@h PRIVMSG #c :${text}`);
}

function enabled() {
  const tracker = new HistoryTracker(50);
  tracker.enabled = true;
  tracker.serverLimit = 100;
  return tracker;
}

test("nothing is asked when the server offers no history", () => {
  const tracker = new HistoryTracker();
  tracker.joined("#c", NOW);
  assert.deepEqual(tracker.takeRequests(), []);
});

test("a first join asks for the latest lines; live lines wait for them", () => {
  const tracker = enabled();
  tracker.joined("#c", NOW);
  assert.deepEqual(tracker.takeRequests(), [["CHATHISTORY", "LATEST", "#c", "*", "50"]]);
  assert.equal(tracker.live("#c", msg("live", "live"), "LIVE"), "held");
  tracker.batch(parse("BATCH +b1 chathistory #c"));
  assert.ok(tracker.collect(msg("m1", "old one", "b1")));
  assert.ok(tracker.collect(msg("live", "also live", "b1")));
  const done = tracker.batch(parse("BATCH -b1"));
  assert.equal(done.kind, RECENT);
  assert.deepEqual(done.messages.map((m) => m.params[1]), ["old one", "also live"]);
  assert.deepEqual(done.held, []); // the held line was in the history: not twice
  assert.equal(done.complete, true);
});

test("a join after a reconnect asks for what came after the newest, page by page", () => {
  const tracker = enabled();
  tracker.joined("#c", NOW);
  tracker.takeRequests();
  tracker.batch(parse("BATCH +b chathistory #c"));
  tracker.batch(parse("BATCH -b"));
  assert.equal(tracker.live("#c", msg("m9", "seen"), "L"), "show");
  tracker.connectionLost();
  tracker.joined("#c", NOW);
  assert.deepEqual(tracker.takeRequests(), [["CHATHISTORY", "AFTER", "#c", "msgid=m9", "100"]]);
  tracker.batch(parse("BATCH +p1 chathistory #c"));
  for (let i = 0; i < 100; i++) tracker.collect(msg(`n${i}`, `missed ${i}`, "p1"));
  assert.equal(tracker.batch(parse("BATCH -p1")), null); // a full page: ask for the next
  assert.deepEqual(tracker.takeRequests(), [["CHATHISTORY", "AFTER", "#c", "msgid=n99", "100"]]);
  tracker.batch(parse("BATCH +p2 chathistory #c"));
  tracker.collect(msg("n100", "last missed", "p2"));
  const done = tracker.batch(parse("BATCH -p2"));
  assert.equal(done.kind, MISSED);
  assert.equal(done.messages.length, 101);
  assert.equal(tracker.live("#c", msg("n100", "dup"), "L"), "duplicate");
});

test("older pages until one is not full", () => {
  const tracker = enabled();
  tracker.joined("#c", NOW);
  tracker.takeRequests();
  tracker.batch(parse("BATCH +b chathistory #c"));
  for (let i = 0; i < 50; i++) tracker.collect(msg(`r${i}`, `r${i}`, "b"));
  tracker.batch(parse("BATCH -b"));
  assert.ok(tracker.older("#c"));
  assert.deepEqual(tracker.takeRequests(), [["CHATHISTORY", "BEFORE", "#c", "msgid=r0", "50"]]);
  assert.ok(!tracker.older("#c")); // one request at a time
  tracker.batch(parse("BATCH +o chathistory #c"));
  tracker.collect(msg("o1", "oldest", "o"));
  const done = tracker.batch(parse("BATCH -o"));
  assert.equal(done.kind, OLDER);
  assert.equal(done.complete, true);
  assert.ok(!tracker.older("#c"));
});

test("a FAIL ends the request", () => {
  const tracker = enabled();
  tracker.joined("#c", NOW);
  tracker.takeRequests();
  const done = tracker.failed(parse("FAIL CHATHISTORY INVALID_TARGET LATEST #c :no"));
  assert.equal(done.kind, RECENT);
});
