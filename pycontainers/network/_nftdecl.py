"""The libnftables declarations pycontainers calls, for cffi.

One text for both ways of loading libnftables: ``_native/build_nft.py`` compiles it into
:mod:`pycontainers.network._nftables` (API mode, checked against ``nftables/libnftables.h``)
and, when that module was not built, :mod:`pycontainers.network.nft` parses it at run time
(ABI mode). No imports here: the build script reads this file by path.
"""

#: The functions, as ``nftables/libnftables.h`` declares them.
CDEF = """
struct nft_ctx;
struct nft_ctx *nft_ctx_new(uint32_t flags);
void nft_ctx_free(struct nft_ctx *ctx);
void nft_ctx_output_set_flags(struct nft_ctx *ctx, unsigned int flags);
int nft_ctx_buffer_output(struct nft_ctx *ctx);
const char *nft_ctx_get_output_buffer(struct nft_ctx *ctx);
int nft_ctx_buffer_error(struct nft_ctx *ctx);
const char *nft_ctx_get_error_buffer(struct nft_ctx *ctx);
int nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf);
"""

#: Output flags (enum values of the header): their values for the ABI mode; the compiled
#: module takes them from the header.
CONSTANTS = {"NFT_CTX_OUTPUT_HANDLE": 1 << 3, "NFT_CTX_OUTPUT_JSON": 1 << 4}
