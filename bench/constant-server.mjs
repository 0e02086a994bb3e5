// The constant route of every ceiling: node:http answering one fixed JSON body (about the size of an OAuth error
// answer), with the headers an OAuth answer carries. Usage: node bench/constant-server.mjs PORT
import { createServer } from 'node:http';

const body = JSON.stringify({ error: 'authorization_pending', error_description: 'The person has not yet approved the request.' });
const server = createServer((req, res) => {
  // Read the request body as any endpoint must, then answer.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  });
});
server.listen(Number(process.argv[2]), '127.0.0.1');
process.once('SIGTERM', () => process.exit(0));
