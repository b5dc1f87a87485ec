/** The TypeScript MD5 against RFC 1321's test suite and node:crypto on split, unaligned updates. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Md5 } from "../../data/flac/md5_digest.ts";

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("RFC 1321 appendix A.5 test suite", () => {
  const suite: [string, string][] = [
    ["", "d41d8cd98f00b204e9800998ecf8427e"],
    ["a", "0cc175b9c0f1b6a831c399e269772661"],
    ["abc", "900150983cd24fb0d6963f7d28e17f72"],
    ["message digest", "f96b697d7cb7938d525a2f31aaf161d0"],
    ["abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"],
    ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"],
    ["1234567890".repeat(8), "57edf4a22be3c955ac49da2e2107b67a"],
  ];
  for (const [input, digest] of suite) assert.equal(new Md5().update(text(input)).digestHex(), digest, input);
});

Deno.test("padding edges and split updates agree with node:crypto", () => {
  for (const n of [55, 56, 57, 63, 64, 65, 119, 120, 128]) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255);
    assert.equal(
      new Md5().update(bytes).digestHex(),
      createHash("md5").update(bytes).digest("hex"),
      `${n} bytes`,
    );
  }
  const bytes = Uint8Array.from({ length: 70_001 }, (_, i) => (i * 2654435761) >>> 24);
  const md5 = new Md5();
  let at = 0;
  for (const n of [1, 63, 64, 65, 1000, 3, 0, 70_000]) {
    md5.update(bytes.subarray(at, Math.min(at + n, bytes.length)));
    at = Math.min(at + n, bytes.length);
  }
  assert.equal(md5.digestHex(), createHash("md5").update(bytes).digest("hex"));
  assert.throws(() => md5.update(bytes), /after digest/);
});
