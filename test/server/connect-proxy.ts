import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

/** A real HTTP CONNECT proxy on 127.0.0.1 that records the tunnels it opens. */
export class ConnectProxy {
  /** `host:port` of each CONNECT request, in order. */
  readonly tunnels: string[] = [];
  /** Answer every CONNECT with this status instead of tunnelling. */
  refuseWith: number | undefined;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    server.on('connect', (request, client: Socket, head: Buffer) => {
      this.track(client);
      this.tunnels.push(request.url ?? '');
      if (this.refuseWith) return void client.end(`HTTP/1.1 ${this.refuseWith} Forbidden\r\n\r\n`);
      const [host, port] = (request.url ?? '').split(':');
      const upstream = this.track(
        connect(Number(port), host, () => {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          upstream.write(head);
          upstream.pipe(client);
          client.pipe(upstream);
        }),
      );
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
  }

  static async start(): Promise<ConnectProxy> {
    const server = createServer((_request, response) => response.writeHead(405).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new ConnectProxy(server);
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: Socket): Socket {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    return socket;
  }
}
