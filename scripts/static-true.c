/* A minimal static `true` for benchmarks: no libc, no dynamic loader, just
 * exit_group(0). Used as the child so that the start-up benchmark measures
 * the init, not the child.
 *
 * Build: gcc -static -nostdlib -Os -s -o static-true static-true.c
 */
void _start(void)
{
    __asm__ volatile(
        "mov $231, %eax\n\t" /* SYS_exit_group */
        "xor %edi, %edi\n\t" /* status 0 */
        "syscall\n\t");
    __builtin_unreachable();
}
