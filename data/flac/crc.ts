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

/** CRC-16 of bytes[start, end). */
export function crc16(bytes: Uint8Array, start: number, end: number): number {
  const table = CRC16_TABLE;
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xff00) ^ table[(crc >>> 8) ^ bytes[i]];
  return crc;
}
