#!/usr/bin/env node
// h2server.js: a fake HTTPS server that speaks HTTP/2 only (ALPN "h2"),
// for the worker's HTTP/2 test (test/t/059_http2.pl).
//
// Every request is answered after --delay-ms with 200 and a JSON body
// {"ok": true, "path": ..., "protocol": "2.0"}.  The server records what
// the test checks in --stats (rewritten atomically after every change):
//   {"requests": N, "sessions": N (TLS connections that spoke HTTP/2),
//    "inflight": N, "max_inflight": N (streams open at once, all sessions),
//    "protocols": {"2.0": N, ...}, "session_of": {"/path": session number}}
// and writes its port to --port-file once it listens.  It exits when
// --parent-pid is gone or after --max-seconds.
//
// Usage: node h2server.js --cert F --key F --port-file F --stats F
//                         [--delay-ms N] [--parent-pid N] [--max-seconds N]
'use strict';

const fs = require('fs');
const http2 = require('http2');

function parseArgs(argv)
{
	const o = { 'delay-ms': '0', 'max-seconds': '600' };
	for (let i = 2; i < argv.length; i += 2)
	{
		if (!argv[i].startsWith('--') || i + 1 >= argv.length)
			throw new Error('bad argument: ' + argv[i]);
		o[argv[i].slice(2)] = argv[i + 1];
	}
	for (const k of ['cert', 'key', 'port-file', 'stats'])
		if (!o[k])
			throw new Error('--' + k + ' is required');
	return o;
}

const opt = parseArgs(process.argv);
const delayMs = parseInt(opt['delay-ms'], 10);
const stats = {
	requests: 0, sessions: 0, inflight: 0, max_inflight: 0,
	protocols: {}, session_of: {}
};

// writeStats: replace the stats file (write, then rename) once the
// current pass of the event loop is over, so that a burst of requests
// costs one write (a test reads it after the worker committed the
// answers: milliseconds later)
let statsPending = false;
function writeStats()
{
	if (statsPending)
		return;
	statsPending = true;
	setImmediate(() => {
		const tmp = opt.stats + '.tmp';

		statsPending = false;
		fs.writeFileSync(tmp, JSON.stringify(stats));
		fs.renameSync(tmp, opt.stats);
	});
}

const server = http2.createSecureServer({
	cert: fs.readFileSync(opt.cert),
	key: fs.readFileSync(opt.key),
	allowHTTP1: false
});

server.on('session', (session) => {
	session.flowdbNumber = ++stats.sessions;
	writeStats();
});

server.on('request', (req, res) => {
	const path = req.url;
	stats.requests++;
	stats.protocols[req.httpVersion] = (stats.protocols[req.httpVersion] || 0) + 1;
	stats.session_of[path] = req.stream.session.flowdbNumber;
	stats.inflight++;
	if (stats.inflight > stats.max_inflight)
		stats.max_inflight = stats.inflight;
	writeStats();
	req.resume();
	req.on('end', () => {
		setTimeout(() => {
			stats.inflight--;
			writeStats();
			res.writeHead(200, { 'content-type': 'application/json' });
			res.end(JSON.stringify({ ok: true, path: path, protocol: req.httpVersion }));
		}, delayMs);
	});
});

server.listen(0, '127.0.0.1', () => {
	writeStats();
	const tmp = opt['port-file'] + '.tmp';
	fs.writeFileSync(tmp, String(server.address().port) + '\n');
	fs.renameSync(tmp, opt['port-file']);
});

const parent = parseInt(opt['parent-pid'] || '0', 10);
setInterval(() => {
	if (parent > 0)
	{
		try
		{
			process.kill(parent, 0);
		}
		catch (e)
		{
			process.exit(0);
		}
	}
}, 1000).unref();
setTimeout(() => process.exit(0), parseInt(opt['max-seconds'], 10) * 1000).unref();
process.on('SIGTERM', () => process.exit(0));
