import BNCCLI

BNC.runMain()
