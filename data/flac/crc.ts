/** CRC-8 (polynomial x^8+x^2+x+1) and CRC-16 (x^16+x^15+x^2+1), both MSB-first with zero init, as FLAC uses. */

function makeTable(poly: number, width: number): Uint16Array {
  const table = new Uint16Array(256);
  const top = 1 << (width - 1);
  const mask = (1 << width) - 1;
  for (let i = 0; i < 256; i++) {
    let crc = i << (width - 8);
    for (let b = 0; b < 8; b++) crc = (crc & top ? (crc << 1) ^ poly : crc << 1) & mask;
    table[i] = crc;
  }
  return table;
}

const CRC8_TABLE = makeTable(0x07, 8);
const CRC16_TABLE = makeTable(0x8005, 16);

/** CRC-8 of bytes[start, end). */
export function crc8(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = CRC8_TABLE[crc ^ bytes[i]];
  return crc;
}

/** Tables for CRC-16 four bytes at a time: T[k][b] is the CRC of byte b followed by k zero bytes. */
const CRC16_T1 = new Uint16Array(256);
const CRC16_T2 = new Uint16Array(256);
const CRC16_T3 = new Uint16Array(256);
for (let b = 0; b < 256; b++) {
  let c = CRC16_TABLE[b];
  c = ((c << 8) & 0xffff) ^ CRC16_TABLE[c >>> 8];
  CRC16_T1[b] = c;
  c = ((c << 8) & 0xffff) ^ CRC16_TABLE[c >>> 8];
  CRC16_T2[b] = c;
  c = ((c << 8) & 0xffff) ^ CRC16_TABLE[c >>> 8];
  CRC16_T3[b] = c;
}

/**
 * CRC-16 of bytes[start, end), where words[j] holds bytes[4j..4j+3] big-endian (the bit reader's mirror):
 * the aligned middle is processed a word at a time.
 */
export function crc16Words(bytes: Uint8Array, words: Int32Array, start: number, end: number): number {
  const t0 = CRC16_TABLE, t1 = CRC16_T1, t2 = CRC16_T2, t3 = CRC16_T3;
  let crc = 0;
  let i = start;
  for (; i < end && (i & 3) !== 0; i++) crc = ((crc << 8) & 0xff00) ^ t0[(crc >>> 8) ^ bytes[i]];
  for (; i + 4 <= end; i += 4) {
    const v = words[i >>> 2] ^ (crc << 16);
    crc = t3[v >>> 24] ^ t2[(v >>> 16) & 0xff] ^ t1[(v >>> 8) & 0xff] ^ t0[v & 0xff];
  }
  for (; i < end; i++) crc = ((crc << 8) & 0xff00) ^ t0[(crc >>> 8) ^ bytes[i]];
  return crc;
}

/** CRC-16 of bytes[start, end). */
export function crc16(bytes: Uint8Array, start: number, end: number): number {
  const table = CRC16_TABLE;
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xff00) ^ table[(crc >>> 8) ^ bytes[i]];
  return crc;
}
