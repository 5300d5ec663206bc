//go:build !race

#include "textflag.h"

// fixupSlots is the length of fixupSetG.
#define fixupSlots 256

// func copyFixed(dst, src unsafe.Pointer, n uintptr) (faulted bool)
//
// copyFixed copies n bytes from src to dst, which do not overlap. An access
// that faults resumes at fixupResume (fixupHandler sets the PC there), which
// returns true. It keeps SP where it found it and pushes nothing: fixupResume
// finds the result's slot and the return address at SP.
TEXT ·copyFixed(SB),NOSPLIT,$0-25
	MOVQ	dst+0(FP), DI
	MOVQ	src+8(FP), SI
	MOVQ	n+16(FP), CX
	MOVB	$0, faulted+24(FP)
	CMPQ	CX, $16
	JBE	upto16
	CMPQ	CX, $64
	JBE	upto64
	CMPQ	CX, $256
	JB	loop64
	CMPB	·fixupAVX2(SB), $1
	JEQ	loop128

	// 65 bytes or more (without AVX2; else to 255): 64 at a time, then the
	// last 64, which may overlap bytes already copied. No string move (REP
	// MOVSB): the optimistic read of lock.go relies on the copy's loads
	// being ordinary loads, in order with the load of seq that follows.
loop64:
	MOVOU	0(SI), X0
	MOVOU	16(SI), X1
	MOVOU	32(SI), X2
	MOVOU	48(SI), X3
	MOVOU	X0, 0(DI)
	MOVOU	X1, 16(DI)
	MOVOU	X2, 32(DI)
	MOVOU	X3, 48(DI)
	ADDQ	$64, SI
	ADDQ	$64, DI
	SUBQ	$64, CX
	CMPQ	CX, $64
	JA	loop64
	MOVOU	-64(SI)(CX*1), X0
	MOVOU	-48(SI)(CX*1), X1
	MOVOU	-32(SI)(CX*1), X2
	MOVOU	-16(SI)(CX*1), X3
	MOVOU	X0, -64(DI)(CX*1)
	MOVOU	X1, -48(DI)(CX*1)
	MOVOU	X2, -32(DI)(CX*1)
	MOVOU	X3, -16(DI)(CX*1)
	RET

	// 256 bytes or more with AVX2: 128 at a time, then the last 128.
	// From 1 MiB on, the stores bypass the cache.
loop128:
	CMPQ	CX, $0x100000
	JAE	bypass
	VMOVDQU	0(SI), Y0
	VMOVDQU	32(SI), Y1
	VMOVDQU	64(SI), Y2
	VMOVDQU	96(SI), Y3
	VMOVDQU	Y0, 0(DI)
	VMOVDQU	Y1, 32(DI)
	VMOVDQU	Y2, 64(DI)
	VMOVDQU	Y3, 96(DI)
	ADDQ	$128, SI
	ADDQ	$128, DI
	SUBQ	$128, CX
	CMPQ	CX, $128
	JA	loop128
	// The last 128 bytes, which may overlap bytes already copied.
last128:
	VMOVDQU	-128(SI)(CX*1), Y0
	VMOVDQU	-96(SI)(CX*1), Y1
	VMOVDQU	-64(SI)(CX*1), Y2
	VMOVDQU	-32(SI)(CX*1), Y3
	VMOVDQU	Y0, -128(DI)(CX*1)
	VMOVDQU	Y1, -96(DI)(CX*1)
	VMOVDQU	Y2, -64(DI)(CX*1)
	VMOVDQU	Y3, -32(DI)(CX*1)
	VZEROUPPER
	RET

	// 1 MiB or more with AVX2: the first 32 bytes, then from where dst is
	// aligned to 32, 128 at a time with stores that bypass the cache (as
	// the runtime's copy does at that size), then the last 128.
bypass:
	VMOVDQU	0(SI), Y0
	VMOVDQU	Y0, 0(DI)
	MOVQ	DI, AX
	ANDQ	$31, AX
	MOVQ	$32, BX
	SUBQ	AX, BX
	ADDQ	BX, SI
	ADDQ	BX, DI
	SUBQ	BX, CX
bypassloop:
	// Ask for the source well ahead (a prefetch never faults).
	PREFETCHNTA	0x1C0(SI)
	PREFETCHNTA	0x280(SI)
	VMOVDQU	0(SI), Y0
	VMOVDQU	32(SI), Y1
	VMOVDQU	64(SI), Y2
	VMOVDQU	96(SI), Y3
	VMOVNTDQ	Y0, 0(DI)
	VMOVNTDQ	Y1, 32(DI)
	VMOVNTDQ	Y2, 64(DI)
	VMOVNTDQ	Y3, 96(DI)
	ADDQ	$128, SI
	ADDQ	$128, DI
	SUBQ	$128, CX
	CMPQ	CX, $128
	JA	bypassloop
	SFENCE
	JMP	last128

	// 17 to 64 bytes: the first and the last 16 or 32.
upto64:
	CMPQ	CX, $32
	JBE	upto32
	MOVOU	0(SI), X0
	MOVOU	16(SI), X1
	MOVOU	-32(SI)(CX*1), X2
	MOVOU	-16(SI)(CX*1), X3
	MOVOU	X0, 0(DI)
	MOVOU	X1, 16(DI)
	MOVOU	X2, -32(DI)(CX*1)
	MOVOU	X3, -16(DI)(CX*1)
	RET
upto32:
	MOVOU	0(SI), X0
	MOVOU	-16(SI)(CX*1), X1
	MOVOU	X0, 0(DI)
	MOVOU	X1, -16(DI)(CX*1)
	RET

	// 0 to 16 bytes: the first and the last 8, 4 or 1 (and the middle one
	// of 3).
upto16:
	CMPQ	CX, $8
	JB	upto7
	MOVQ	0(SI), AX
	MOVQ	-8(SI)(CX*1), BX
	MOVQ	AX, 0(DI)
	MOVQ	BX, -8(DI)(CX*1)
	RET
upto7:
	CMPQ	CX, $4
	JB	upto3
	MOVL	0(SI), AX
	MOVL	-4(SI)(CX*1), BX
	MOVL	AX, 0(DI)
	MOVL	BX, -4(DI)(CX*1)
	RET
upto3:
	TESTQ	CX, CX
	JEQ	done
	MOVB	0(SI), AX
	MOVB	-1(SI)(CX*1), BX
	CMPQ	CX, $2
	JBE	upto2
	MOVB	1(SI), DX
	MOVB	DX, 1(DI)
upto2:
	MOVB	AX, 0(DI)
	MOVB	BX, -1(DI)(CX*1)
done:
	RET

// func fixupResume()
//
// fixupResume is where fixupHandler resumes a copyFixed whose access
// faulted, with copyFixed's SP: it sets copyFixed's result (at 8+24(SP),
// after the return address and the three arguments) to true and returns to
// copyFixed's caller.
TEXT ·fixupResume(SB),NOSPLIT|NOFRAME,$0-0
	CMPB	·fixupAVX2(SB), $1
	JNE	3(PC)
	SFENCE
	VZEROUPPER
	MOVB	$1, 32(SP)
	RET

// func fixupHandler()
//
// fixupHandler is the handler of SIGSEGV and SIGBUS, called by the kernel
// as a C function: DI the signal, SI its siginfo, DX its ucontext. It acts
// only on a fault (si_code > 0: sent by the kernel, not by kill):
//
//   - at a PC in copyFixed, it resumes at fixupResume;
//   - on a goroutine inside Access's call of fn (see fixupAccess), it
//     sets the goroutine's panic-on-fault flag if it is not set, noting the
//     goroutine in fixupSetG, and goes on to the runtime's handler, which
//     then makes the fault a panic that Access recovers.
//
// Every signal but the first kind goes to the handler installed before, the
// Go runtime's, with the registers and the stack as the kernel left them
// (DI, SI and DX included). It uses AX, CX and R8-R11, which that handler
// does not read, and no stack.
TEXT ·fixupHandler(SB),NOSPLIT|NOFRAME,$0-0
	MOVL	8(SI), AX		// si_code
	CMPL	AX, $0
	JLE	forward
	MOVQ	168(DX), AX		// uc_mcontext.rip
	MOVQ	·fixupCopyStart(SB), CX
	CMPQ	AX, CX
	JCS	access
	MOVQ	·fixupCopyEnd(SB), CX
	CMPQ	AX, CX
	JCC	access
	MOVQ	·fixupResumePC(SB), CX
	MOVQ	CX, 168(DX)
	RET

access:
	// AX still holds the faulting PC. R11: the offset of paniconfault in
	// the runtime's g (0: faults in Access are left to panic-on-fault,
	// which Access then sets itself).
	MOVQ	·fixupPanicOnFault(SB), R11
	TESTQ	R11, R11
	JEQ	forward
	// R8: the thread's g (0 on a thread of C code); R9: the faulting SP,
	// which must lie on g's stack [lo, hi); R10: hi.
	MOVQ	TLS, R8
	MOVQ	0(R8)(TLS*1), R8
	TESTQ	R8, R8
	JEQ	forward
	MOVQ	160(DX), R9		// uc_mcontext.rsp
	CMPQ	R9, 0(R8)		// g.stack.lo
	JCS	forward
	MOVQ	8(R8), R10		// g.stack.hi
	CMPQ	R9, R10
	JCC	forward
	ANDQ	$~7, R9

	// A PC in Access: a live frame of it.
	CMPQ	AX, ·fixupAccessStart(SB)
	JCS	atsp
	CMPQ	AX, ·fixupAccessEnd(SB)
	JCS	found

atsp:
	// fn without a frame (no saved BP): the return address of Access's
	// call of fn is at SP.
	MOVQ	·fixupAccessRet(SB), AX
	CMPQ	AX, 0(R9)
	JEQ	found

	// The chain of frame pointers from BP: each frame's saved BP at
	// 0(BP), its return address at 8(BP), the caller's frame higher on the
	// stack. Each frame on it is live, so a return address anywhere in
	// Access's code counts. It ends at a saved BP of 0, the goroutine's
	// first frame: then no frame returns into Access. A BP outside the
	// stack, unaligned, or not above the one before means the chain is
	// broken (assembly that uses BP as a register, such as some of
	// crypto's; a cgo callback's edge): then every word of the stack from
	// SP up is compared with the exact return address of Access's call of
	// fn instead.
walk:
	MOVQ	120(DX), CX		// uc_mcontext.rbp
walkloop:
	TESTQ	CX, CX
	JEQ	forward
	CMPQ	CX, R9
	JCS	scan
	LEAQ	16(CX), AX
	CMPQ	AX, R10
	JHI	scan
	TESTQ	$7, CX
	JNE	scan
	MOVQ	8(CX), AX		// a live frame's return address: into Access?
	CMPQ	AX, ·fixupAccessStart(SB)
	JCS	walknext
	CMPQ	AX, ·fixupAccessEnd(SB)
	JCS	found
walknext:
	MOVQ	0(CX), AX
	TESTQ	AX, AX
	JEQ	forward
	CMPQ	AX, CX
	JLS	scan
	MOVQ	AX, CX
	JMP	walkloop

scan:
	LOCK
	INCQ	·fixupScans(SB)
	MOVQ	R9, CX
	MOVQ	·fixupAccessRet(SB), AX
scanloop:
	CMPQ	CX, R10
	JCC	forward
	CMPQ	AX, 0(CX)
	LEAQ	8(CX), CX
	JNE	scanloop

found:
	// Set g's panic-on-fault flag unless the goroutine set it itself, and
	// note g in the first free slot of fixupSetG so that Access clears the
	// flag again (fixupRestore). With every slot taken (as many goroutines
	// between a fault and Access's recover), the flag is set all the same:
	// a fault inside Access must not crash the program.
	CMPB	0(R8)(R11*1), $0
	JNE	forward
	LEAQ	·fixupSetG(SB), R9
	XORL	CX, CX
record:
	CMPQ	CX, $fixupSlots
	JEQ	set
	XORL	AX, AX
	LOCK
	CMPXCHGQ	R8, 0(R9)(CX*8)
	JEQ	recorded
	INCQ	CX
	JMP	record
recorded:
	LOCK
	INCL	·fixupPending(SB)
set:
	MOVB	$1, 0(R8)(R11*1)

forward:
	CMPL	DI, $7			// SIGBUS
	JNE	segv
	MOVQ	·fixupPrevBus(SB), AX
	JMP	AX
segv:
	MOVQ	·fixupPrevSegv(SB), AX
	JMP	AX

// func fixupG() unsafe.Pointer
//
// fixupG returns the calling goroutine's g, the runtime's record of it, as
// fixupHandler finds it.
TEXT ·fixupG(SB),NOSPLIT,$0-8
	MOVQ	TLS, AX
	MOVQ	0(AX)(TLS*1), AX
	MOVQ	AX, ret+0(FP)
	RET

// func fixupPCs() (handler, copyStart, resume uintptr)
TEXT ·fixupPCs(SB),NOSPLIT,$0-24
	LEAQ	·fixupHandler(SB), AX
	MOVQ	AX, handler+0(FP)
	LEAQ	·copyFixed(SB), AX
	MOVQ	AX, copyStart+8(FP)
	LEAQ	·fixupResume(SB), AX
	MOVQ	AX, resume+16(FP)
	RET
