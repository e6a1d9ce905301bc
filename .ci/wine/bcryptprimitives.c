/*
 * A stand-in for Windows' bcryptprimitives.dll, for running ekstoken's
 * Windows build under wine 8 in CI. Never shipped, never committed built.
 *
 * Go's runtime (1.24 and later) loads bcryptprimitives.dll from system32 and
 * calls ProcessPrng for every random byte it needs; a process without it
 * dies at start. Wine 8 has no ProcessPrng, so this DLL provides it on top
 * of RtlGenRandom (SystemFunction036 in advapi32), which wine implements
 * with the host's random source. .ci/windows builds it with Debian's
 * x86_64-w64-mingw32-gcc and puts it in the wine prefix's system32.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* ProcessPrng fills data with len random bytes. Windows documents that it
 * always succeeds; this one reports FALSE if RtlGenRandom fails, and so
 * Go's runtime stops rather than run with bytes that are not random. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
