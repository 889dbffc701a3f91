#!/usr/bin/env node
// tlsserver.js: a fake HTTPS server for the worker's HTTP/2 test
// (test/t/059_http2.pl).  --protocol h2 (the default) speaks HTTP/2 only
// (ALPN "h2"); --protocol http/1.1 speaks HTTP/1.1 only.
//
// Every request is answered after --delay-ms with 200 and a JSON body
// {"ok": true, "path": ..., "protocol": "2.0" or "1.1"}.  The server records
// what the test checks in --stats (rewritten after every change):
//   {"requests": N, "connections": N (TLS connections accepted),
//    "inflight": N, "max_inflight": N (requests open at once, all
//    connections), "protocols": {"2.0": N, ...},
//    "connection_of": {"/path": connection number}}
// and writes its port to --port-file once it listens.  It exits when
// --parent-pid is gone or after --max-seconds.
//
// Usage: node tlsserver.js --cert F --key F --port-file F --stats F
//                          [--protocol h2|http/1.1] [--delay-ms N]
//                          [--parent-pid N] [--max-seconds N]
'use strict';

const fs = require('fs');
const http2 = require('http2');
const https = require('https');

function parseArgs(argv)
{
	const o = { 'delay-ms': '0', 'max-seconds': '600', protocol: 'h2' };
	for (let i = 2; i < argv.length; i += 2)
	{
		if (!argv[i].startsWith('--') || i + 1 >= argv.length)
			throw new Error('bad argument: ' + argv[i]);
		o[argv[i].slice(2)] = argv[i + 1];
	}
	for (const k of ['cert', 'key', 'port-file', 'stats'])
		if (!o[k])
			throw new Error('--' + k + ' is required');
	if (o.protocol !== 'h2' && o.protocol !== 'http/1.1')
		throw new Error('--protocol is h2 or http/1.1');
	return o;
}

const opt = parseArgs(process.argv);
const delayMs = parseInt(opt['delay-ms'], 10);
const stats = {
	requests: 0, connections: 0, inflight: 0, max_inflight: 0,
	protocols: {}, connection_of: {}
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

// answer: the request handler of both protocols
function answer(req, res)
{
	const path = req.url;
	const sock = req.stream ? req.stream.session.socket : req.socket;

	stats.requests++;
	stats.protocols[req.httpVersion] = (stats.protocols[req.httpVersion] || 0) + 1;
	stats.connection_of[path] = sock.flowdbNumber;
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
}

const tlsOptions = { cert: fs.readFileSync(opt.cert), key: fs.readFileSync(opt.key) };
const server = opt.protocol === 'h2'
	? http2.createSecureServer(Object.assign({ allowHTTP1: false }, tlsOptions), answer)
	: https.createServer(Object.assign({ ALPNProtocols: ['http/1.1'] }, tlsOptions), answer);
// no idle timeout: connections live as long as the client keeps them
server.keepAliveTimeout = 0;

server.on('secureConnection', (socket) => {
	socket.flowdbNumber = ++stats.connections;
	writeStats();
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
