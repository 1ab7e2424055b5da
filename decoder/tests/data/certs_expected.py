"""Writes the oracle for decoder/tests/certs.rs: python3 certs_expected.py > certs-expected.json

Uses Python cryptography (48.0.0). Certificates it refuses come out as {"error": ...}; those
entries were then replaced by hand with values read with openssl (each carries a by_hand note).
"""
import json, os, sys, base64
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtensionOID
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../../tests/fixtures/certs')
out = {}
def ders(path):
    b = open(path,'rb').read()
    if b'-----BEGIN CERTIFICATE-----' not in b: return [b]
    res=[]; body=None
    for line in b.decode('latin-1').splitlines():
        line=line.strip()
        if line=='-----BEGIN CERTIFICATE-----': body=''
        elif line=='-----END CERTIFICATE-----': res.append(base64.b64decode(body)); body=None
        elif body is not None: body+=line
    return res
for d in sorted(os.listdir(root)):
    for f in sorted(os.listdir(os.path.join(root,d))):
        rel=f'{d}/{f}'
        for i,der in enumerate(ders(os.path.join(root,rel))):
            key=f'{rel}#{i}'
            try:
                c = x509.load_der_x509_certificate(der)
                cns = c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
                cn = cns[-1].value if cns else None
                if isinstance(cn, bytes): cn = cn.decode('utf-8','replace')
                try:
                    ca = c.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca
                except x509.ExtensionNotFound: ca=False
                try:
                    san = c.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value.get_values_for_type(x509.DNSName)
                except x509.ExtensionNotFound: san=[]
                doms=[]
                for n in ([cn] if cn is not None and not ca else [])+san:
                    if n not in doms: doms.append(n)
                out[key]={'all_domains':doms,'is_ca':ca,'not_before':int(c.not_valid_before_utc.timestamp()),'not_after':int(c.not_valid_after_utc.timestamp())}
            except Exception as e:
                out[key]={'error':f'{type(e).__name__}: {e}'[:200]}
json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
