# Thin wrapper over the two README commands and meson.
.PHONY: all demo check check-kernel bench clean
all:
	@[ -d build ] || meson setup build
	ninja -C build
demo:
	./scripts/demo.sh
check:
	./scripts/check.sh
check-kernel:
	./scripts/check.sh --suite kernel
bench:
	./bench/run.sh
clean:
	rm -rf build build-asan
