/** CRC-32 as zlib's crc32 (reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF). */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

const encoder = new TextEncoder();

/**
 * CRC-32 of `data` (a string is taken as its UTF-8 bytes), as an unsigned 32-bit number. Pass the previous
 * result as `previous` to continue over more data, like zlib.crc32(data, value).
 */
export function crc32(data: Uint8Array | string, previous = 0): number {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
