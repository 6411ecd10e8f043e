# mk/ebpf.mk - the eBPF capture program (ebpf/capture.bpf.c) and its skeleton.
#
# vmlinux.h comes from the running kernel's BTF at build time (CO-RE: the
# object then relocates itself on any kernel with BTF); the BPF object is
# embedded into $(BUILD)/gen/capture.skel.h, which engine/capture_bpf.c
# includes, so the binary carries its program and needs no file at run time.

BPF_CLANG ?= clang
BPFTOOL   ?= bpftool
BPF_ARCH  := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' -e 's/s390x/s390/')
BPF_CFLAGS := -target bpf -O2 -g -Wall -Werror -D__TARGET_ARCH_$(BPF_ARCH) -I$(BUILD)/gen -Iebpf

$(BUILD)/gen/vmlinux.h: | $(BUILD)/gen
	@test -r /sys/kernel/btf/vmlinux || { \
	  echo "ebpf: this kernel has no BTF (/sys/kernel/btf/vmlinux); live capture needs CONFIG_DEBUG_INFO_BTF=y" >&2; \
	  exit 1; }
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/capture.bpf.o: ebpf/capture.bpf.c ebpf/capture.h $(BUILD)/gen/vmlinux.h
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/gen/capture.skel.h: $(BUILD)/gen/capture.bpf.o
	$(BPFTOOL) gen skeleton $< name tsf_capture > $@.tmp && mv $@.tmp $@

GEN_HDRS += $(BUILD)/gen/capture.skel.h
