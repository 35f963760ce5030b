// The signed root hash as systemd-repart writes it (src/repart/repart.c, sign_verity_roothash and
// partition_format_verity_sig): a PKCS#7 signedData over the root hash as lowercase hex with no
// newline, detached, no signed attributes (PKCS7_DETACHED|PKCS7_NOATTR|PKCS7_BINARY), the signer's
// certificate included, DER; stored as {"rootHash", "certificateFingerprint", "signature"}.
// PKIjs encodes and parses the CMS structures; node:crypto makes and checks the signature value.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { UserError, errnoReason } from '../errors.js';

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const DIGEST_OF_OID: Record<string, string> = {
  [OID_SHA256]: 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** Curves OpenSSL signs with by default; SHA-256 is OpenSSL's default digest for each, as for RSA. */
const EC_CURVES = ['prime256v1', 'secp384r1', 'secp521r1'];

export interface Signer {
  key: crypto.KeyObject;
  cert: crypto.X509Certificate;
}

export interface VeritySignatureJson {
  rootHash: string;
  certificateFingerprint: string;
  signature: string;
}

function readPem(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new UserError(`${what} ${file}: cannot read: ${errnoReason(e)}`);
  }
}

export function loadCertificate(file: string, what = '--verity-sign-cert'): crypto.X509Certificate {
  try {
    return new crypto.X509Certificate(readPem(file, what));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${what} ${file}: not a PEM or DER X.509 certificate`);
  }
}

/** Load and check the key and certificate before any image is written. RSA and ECDSA keys. */
export function loadSigner(keyFile: string, certFile: string): Signer {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(readPem(keyFile, '--verity-sign-key'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`--verity-sign-key ${keyFile}: not an unencrypted PEM private key`);
  }
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '?';
    if (!EC_CURVES.includes(curve)) throw new UserError(`--verity-sign-key ${keyFile}: EC curve ${curve} not supported (P-256, P-384, P-521)`);
  } else if (type !== 'rsa') {
    throw new UserError(`--verity-sign-key ${keyFile}: ${type} keys are not supported (RSA or ECDSA)`);
  }
  const cert = loadCertificate(certFile);
  if (!cert.checkPrivateKey(key)) throw new UserError(`--verity-sign-cert ${certFile}: does not belong to the key ${keyFile}`);
  return { key, cert };
}

function algorithm(oid: string, nullParams: boolean): pkijs.AlgorithmIdentifier {
  return new pkijs.AlgorithmIdentifier(nullParams ? { algorithmId: oid, algorithmParams: new asn1js.Null() } : { algorithmId: oid });
}

/** The bytes systemd signs: the root hash in lowercase hex, no newline. */
export function signedContent(rootHash: Uint8Array): Buffer {
  return Buffer.from(Buffer.from(rootHash).toString('hex'), 'latin1');
}

/** DER PKCS#7 signedData, as OpenSSL's PKCS7_sign(DETACHED|NOATTR|BINARY) encodes it. */
export function signRootHash(s: Signer, rootHash: Uint8Array): Buffer {
  const cert = pkijs.Certificate.fromBER(s.cert.raw);
  const rsa = s.key.asymmetricKeyType === 'rsa';
  const value = crypto.sign('sha256', signedContent(rootHash), s.key);
  const sd = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [algorithm(OID_SHA256, true)],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID_DATA }),
    certificates: [cert],
    signerInfos: [new pkijs.SignerInfo({
      version: 1,
      sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
      digestAlgorithm: algorithm(OID_SHA256, true),
      // OpenSSL names the key algorithm for RSA (rsaEncryption, NULL) and the combined one for ECDSA.
      signatureAlgorithm: rsa ? algorithm(OID_RSA_ENCRYPTION, true) : algorithm(OID_ECDSA_WITH_SHA256, false),
      signature: new asn1js.OctetString({ valueHex: value }),
    })],
  });
  const ci = new pkijs.ContentInfo({ contentType: OID_SIGNED_DATA, content: sd.toSchema(true) });
  return Buffer.from(ci.toSchema().toBER(false));
}

export function certificateFingerprint(cert: crypto.X509Certificate): string {
  return crypto.createHash('sha256').update(cert.raw).digest('hex');
}

export function signatureJson(s: Signer, rootHash: Uint8Array): VeritySignatureJson {
  return {
    rootHash: Buffer.from(rootHash).toString('hex'),
    certificateFingerprint: certificateFingerprint(s.cert),
    signature: signRootHash(s, rootHash).toString('base64'),
  };
}

/**
 * Check a signature JSON against the expected root hash and a trusted certificate: same root hash,
 * the certificate's fingerprint, and a PKCS#7 signature by that certificate's key over the hex root
 * hash. Returns null when all hold, else the reason.
 */
export function checkSignatureJson(doc: unknown, rootHash: Uint8Array, cert: crypto.X509Certificate): string | null {
  const j = doc as Partial<VeritySignatureJson>;
  if (!j || typeof j !== 'object' || typeof j.rootHash !== 'string' || typeof j.signature !== 'string') {
    return 'not a verity signature document (rootHash, signature)';
  }
  const hexRoot = Buffer.from(rootHash).toString('hex');
  if (j.rootHash.toLowerCase() !== hexRoot) return `signed root hash ${j.rootHash} is not the root hash ${hexRoot}`;
  if (j.certificateFingerprint !== undefined && j.certificateFingerprint.toLowerCase() !== certificateFingerprint(cert)) {
    return 'certificateFingerprint is not the given certificate\'s';
  }
  try {
    const ci = pkijs.ContentInfo.fromBER(Buffer.from(j.signature, 'base64'));
    if (ci.contentType !== OID_SIGNED_DATA) return 'signature is not a PKCS#7 signedData';
    const sd = new pkijs.SignedData({ schema: ci.content });
    if (sd.encapContentInfo.eContent) return 'signature is not detached';
    if (sd.signerInfos.length !== 1) return `signature has ${sd.signerInfos.length} signers, expected 1`;
    const si = sd.signerInfos[0];
    if (si.signedAttrs) return 'signature has signed attributes (systemd signs without)';
    const digest = DIGEST_OF_OID[si.digestAlgorithm.algorithmId];
    if (!digest) return `signature digest ${si.digestAlgorithm.algorithmId} not supported`;
    const want = pkijs.Certificate.fromBER(cert.raw);
    const sid = si.sid as pkijs.IssuerAndSerialNumber;
    if (!(sid instanceof pkijs.IssuerAndSerialNumber) || !sid.issuer.isEqual(want.issuer) || !sid.serialNumber.isEqual(want.serialNumber)) {
      return 'signature was not made by the given certificate';
    }
    const ok = crypto.verify(digest, Buffer.from(hexRoot, 'latin1'), cert.publicKey, Buffer.from(si.signature.valueBlock.valueHexView));
    return ok ? null : 'signature does not verify with the given certificate';
  } catch (e) {
    return `signature cannot be parsed: ${(e as Error).message}`;
  }
}
