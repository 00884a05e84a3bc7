import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/**
 * A port on 127.0.0.1 whose connections never complete: a listening socket
 * with a full accept queue that nobody accepts from, so the kernel drops
 * further SYNs. Node always accepts, so a short Python helper holds it.
 */
const SCRIPT = `
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
fillers = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    fillers.append(c)
print(s.getsockname()[1], flush=True)
time.sleep(120)
`;

export class Blackhole {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  static async start(): Promise<Blackhole> {
    const child = spawn('python3', ['-c', SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [data] = (await once(child.stdout, 'data')) as [Buffer];
    return new Blackhole(child, Number(data.toString().trim()));
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  close(): void {
    this.child.kill();
  }
}
