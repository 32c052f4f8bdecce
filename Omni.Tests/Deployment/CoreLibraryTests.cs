using System.Xml.Linq;
using Omni.Storage;
using Omni.Tests.Infrastructure;

namespace Omni.Tests.Deployment;

/// <summary>Omni.Core is a plain library: HTTP belongs to Omni.Functions, so Core can run under any host.</summary>
public sealed class CoreLibraryTests
{
    [Fact]
    public void OmniCoreReferencesNoAspNetCoreAssembly()
    {
        var references = typeof(Ids).Assembly.GetReferencedAssemblies().Select(a => a.Name!);

        Assert.DoesNotContain(references, name => name.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
    }

    [Fact]
    public void OmniCoreTakesNoFrameworkReferenceToAspNetCore()
    {
        var project = XDocument.Load(Path.Combine(Repository.Root, "Omni.Core", "Omni.Core.csproj"));

        Assert.Empty(project.Descendants("FrameworkReference"));
    }
}
