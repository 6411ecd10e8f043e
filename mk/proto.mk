# proto.mk - the verdict bus wire format, compiled with protoc-c at build time.
# Generated code lives under $(BUILD)/gen so a build directory is self-contained
# (build, build-asan and build-fuzz each get their own copy).

PROTO_GEN_C := $(BUILD)/gen/tapsift.pb-c.c
PROTO_GEN_H := $(BUILD)/gen/tapsift.pb-c.h

# One protoc-c run writes both files (grouped target, GNU make >= 4.3).
$(PROTO_GEN_C) $(PROTO_GEN_H) &: proto/tapsift.proto | $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/obj/tapsift.pb-c.o: $(PROTO_GEN_C) $(PROTO_GEN_H) | $(BUILD)/obj
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

GEN_OBJS += $(BUILD)/obj/tapsift.pb-c.o
GEN_HDRS += $(PROTO_GEN_H)
