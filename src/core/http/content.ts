import { Readable, pipeline } from 'node:stream';
import { createBrotliDecompress, createUnzip } from 'node:zlib';
import { ReadableSource, type ChunkSource } from './response-body';

/**
 * A response body as text bytes. Flowgate asks for no compression, but some
 * gateways compress anyway (gzip, deflate, br); such a body is decoded here,
 * chunk by chunk, so a compressed stream still streams. An unknown encoding
 * is returned as it is: the readers then report what they cannot parse.
 */
export function decodedBody(body: ChunkSource, contentEncoding: string | undefined): ChunkSource {
  const encoding = contentEncoding?.trim().toLowerCase();
  if (!encoding || encoding === 'identity') return body;
  const decoder =
    encoding === 'br' ? createBrotliDecompress() : /^(x-)?gzip$|^deflate$/.test(encoding) ? createUnzip() : undefined;
  if (!decoder) return body;
  // pipeline passes a failure on either side to the other: a reset socket ends the decoder with
  // its error. Destroying the source (a consumer stopping early) destroys the socket's body too.
  return new ReadableSource(
    pipeline(Readable.from(body, { objectMode: false }), decoder, () => {}),
    body,
  );
}

/** zlib's codes for a body that is not what its content-encoding says. */
export function isDecodingError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^Z_/.test(code);
}
