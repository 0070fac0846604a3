// Lets the core's NUnit tests reach the few test-only hooks (e.g. a Hello with another protocol major).
using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("StreamDiffusion.Bridge.Core.Tests")]
