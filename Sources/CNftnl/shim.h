#ifndef SVC2NFT_CNFTNL_H
#define SVC2NFT_CNFTNL_H
// glibc's socket headers first: linux/libc-compat.h then skips the kernel's copies of
// in_addr and friends, which would otherwise clash with Swift's Glibc module.
#include <sys/socket.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
// Conntrack cleanup (stale UDP/SCTP entries after endpoints change): ctnetlink dumps and
// deletions through libnetfilter_conntrack, kept beside libnftnl so C interop stays in one target.
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#endif
