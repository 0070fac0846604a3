// Unity.Collections types used by the package (com.unity.collections / UnityEngine.CoreModule, Unity 2022.3 LTS /
// Unity 6 signatures). Type-check stubs only (never shipped, never run): every body throws.
using System;

namespace Unity.Collections
{
    public enum Allocator
    {
        Invalid = 0,
        None = 1,
        Temp = 2,
        TempJob = 3,
        Persistent = 4,
    }

    public enum NativeArrayOptions
    {
        UninitializedMemory = 0,
        ClearMemory = 1,
    }

    public partial struct NativeArray<T> : IDisposable where T : struct
    {
        public NativeArray(int length, Allocator allocator, NativeArrayOptions options = NativeArrayOptions.ClearMemory) { throw null; }
        public bool IsCreated { get { throw null; } }
        public int Length { get { throw null; } }
        public void Dispose() { throw null; }
        public static void Copy(T[] src, int srcIndex, NativeArray<T> dst, int dstIndex, int length) { throw null; }
        public void CopyTo(T[] array) { throw null; }
    }
}

namespace Unity.Collections.LowLevel.Unsafe
{
    public static unsafe partial class NativeArrayUnsafeUtility
    {
        // An extension method in Unity (this NativeArray<T>); the package calls it as a static method.
        public static void* GetUnsafeReadOnlyPtr<T>(this NativeArray<T> nativeArray) where T : struct { throw null; }
    }
}
