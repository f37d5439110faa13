#ifndef CCURL_H
#define CCURL_H

/*
 * CCurl: a thin, non-variadic C shim over libcurl for Swift.
 *
 * Swift cannot call the variadic curl_easy_setopt / curl_easy_getinfo / curl_multi_setopt, so this header exposes
 * one typed wrapper per argument kind. It also re-exports <curl/curl.h>, compiled with CURL_STRICTER so that
 * `CURL *` and `CURLM *` import into Swift as distinct opaque pointers instead of `void *`.
 */

#ifndef CURL_STRICTER
#define CURL_STRICTER
#endif
#include <curl/curl.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Calls curl_global_init(CURL_GLOBAL_ALL) exactly once per process (thread-safe, via pthread_once).
/// Returns the CURLcode of that single call on every invocation.
CURLcode ccurl_global_init_once(void);

/// The libcurl version string, e.g. "7.88.1".
const char *ccurl_version_string(void);

/// The size of the buffer that CURLOPT_ERRORBUFFER requires (CURL_ERROR_SIZE).
int ccurl_error_size(void);

/// Names the calling OS thread (at most 15 bytes are kept on Linux). Returns 0 on success.
int ccurl_set_current_thread_name(const char *name);

/* curl_easy_setopt, one wrapper per argument type. */
CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode ccurl_setopt_str(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_setopt_ptr(CURL *handle, CURLoption option, void *value);
CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);

/* Callback setters: CURLOPT_WRITEFUNCTION, CURLOPT_HEADERFUNCTION, CURLOPT_XFERINFOFUNCTION. */
CURLcode ccurl_setopt_write_callback(CURL *handle, curl_write_callback callback);
CURLcode ccurl_setopt_header_callback(CURL *handle, curl_write_callback callback);
CURLcode ccurl_setopt_xferinfo_callback(CURL *handle, curl_xferinfo_callback callback);

/* curl_easy_getinfo, one wrapper per result type. */
CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ccurl_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode ccurl_getinfo_str(CURL *handle, CURLINFO info, const char **value);

/* curl_multi_setopt. */
CURLMcode ccurl_multi_setopt_long(CURLM *multi, CURLMoption option, long value);

/// The CURLcode of a CURLMSG_DONE message (reads the `data.result` union member).
CURLcode ccurl_msg_result(const CURLMsg *message);

#ifdef __cplusplus
}
#endif

#endif /* CCURL_H */
