import { rootCertificates } from 'node:tls';
import { certificatesNotIn } from '../../../../src/build/registry/http.js';

// Not a real certificate (only its text is compared), so no root store holds it.
const OWN = `-----BEGIN CERTIFICATE-----
MIIBfTCCASOgAwIBAgIUQm9ndXNDQUZvclNpZlRlc3RzMDEwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJc2lmLXRlc3QwHhcNMjYwMTAxMDAwMDAwWhcNMzYwMTAxMDAw
MDAwWjAUMRIwEAYDVQQDDAlzaWYtdGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABHNpZnNpZnNpZnNpZnNpZnNpZnNpZnNpZnNpZnNpZnNpZnNpZnNpZnNpZnNp
ZnNpZnNpZnNpZnNpZnNpZnNpZnNpZnNpZnNpZqNTMFEwHQYDVR0OBBYEFA==
-----END CERTIFICATE-----`;

describe('certificatesNotIn', () => {
  const first = rootCertificates[0]!;
  const second = rootCertificates[1]!;

  it('drops the certificates already held, whatever the line wrapping', () => {
    const rewrapped = first.replace(/\n/g, '\n\n');
    expect(certificatesNotIn(`${rewrapped}\n${second}\n`, rootCertificates)).toEqual([]);
  });

  it('keeps the ones not held, in bundle order, comments between ignored', () => {
    const bundle = `# a site CA\n${OWN}\n# Mozilla's\n${first}\n`;
    expect(certificatesNotIn(bundle, rootCertificates)).toEqual([OWN]);
    expect(certificatesNotIn(bundle, [])).toEqual([OWN, first.trim()]);
  });

  it('finds nothing in text without certificates', () => {
    expect(certificatesNotIn('not a bundle', rootCertificates)).toEqual([]);
  });
});
