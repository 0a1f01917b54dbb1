import BNCCLI
BNC.main()
