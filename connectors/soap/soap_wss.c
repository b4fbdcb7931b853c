/* WS-Security UsernameToken (OASIS WSS 1.0 UsernameToken Profile):
 * PasswordText, or PasswordDigest = Base64(SHA-1(nonce + created + password))
 * with a fresh random nonce and the creation time. SHA-1, base64 and the
 * random bytes come from OpenSSL's libcrypto. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "soap.h"

#define WSSE_NS "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define WSU_NS "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define WSS_TOKEN_PROFILE "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
#define WSS_MESSAGE_SECURITY "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0"

int soap_wss_add(soap_conn *self, xmlNodePtr header, xmlNsPtr env_ns)
{
    (void)env_ns;
    xmlNodePtr sec = xmlNewChild(header, NULL, BAD_CAST "Security", NULL);
    if (sec == NULL)
        return -1;
    xmlNsPtr wsse = xmlNewNs(sec, BAD_CAST WSSE_NS, BAD_CAST "wsse");
    xmlNsPtr wsu = xmlNewNs(sec, BAD_CAST WSU_NS, BAD_CAST "wsu");
    xmlSetNs(sec, wsse);
    xmlNodePtr tok = xmlNewChild(sec, wsse, BAD_CAST "UsernameToken", NULL);
    xmlNodePtr user = xmlNewChild(tok, wsse, BAD_CAST "Username", NULL);
    xmlNodeAddContent(user, BAD_CAST self->wss_user);
    const char *pw = self->wss_password ? self->wss_password : "";
    if (!self->wss_digest) {
        xmlNodePtr p = xmlNewChild(tok, wsse, BAD_CAST "Password", NULL);
        xmlNodeAddContent(p, BAD_CAST pw);
        xmlNewProp(p, BAD_CAST "Type", BAD_CAST WSS_TOKEN_PROFILE "#PasswordText");
        return 0;
    }
    unsigned char nonce[16], digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (RAND_bytes(nonce, sizeof(nonce)) != 1)
        return -1;
    char created[64];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(created, sizeof(created), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    size_t clen = strlen(created), plen = strlen(pw);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestInit_ex(md, EVP_sha1(), NULL) == 1 &&
             EVP_DigestUpdate(md, nonce, sizeof(nonce)) == 1 &&
             EVP_DigestUpdate(md, created, clen) == 1 && EVP_DigestUpdate(md, pw, plen) == 1 &&
             EVP_DigestFinal_ex(md, digest, &dlen) == 1;
    EVP_MD_CTX_free(md);
    if (!ok)
        return -1;
    unsigned char b64_digest[64], b64_nonce[64];
    EVP_EncodeBlock(b64_digest, digest, (int)dlen);
    EVP_EncodeBlock(b64_nonce, nonce, sizeof(nonce));
    xmlNodePtr p = xmlNewChild(tok, wsse, BAD_CAST "Password", NULL);
    xmlNodeAddContent(p, b64_digest);
    xmlNewProp(p, BAD_CAST "Type", BAD_CAST WSS_TOKEN_PROFILE "#PasswordDigest");
    xmlNodePtr n = xmlNewChild(tok, wsse, BAD_CAST "Nonce", NULL);
    xmlNodeAddContent(n, b64_nonce);
    xmlNewProp(n, BAD_CAST "EncodingType", BAD_CAST WSS_MESSAGE_SECURITY "#Base64Binary");
    xmlNodePtr c = xmlNewChild(tok, wsu, BAD_CAST "Created", NULL);
    xmlNodeAddContent(c, BAD_CAST created);
    return 0;
}
